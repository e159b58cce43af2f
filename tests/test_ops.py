"""The checks every op shares, over the op table (torch_ext.testing.op_db): Meta vs real, grad mode, no ATen
inside, side streams, and that every registered op, layer and function has a row. What is particular to an op
is in its own file, tests/test_<family>.py."""

import inspect

import pytest
import torch

import torch_ext.functional as TF
import torch_ext.nn as TN
from torch_ext.testing import OptOut, hsoftmax_db, op_db
from torch_ext.testing.loss_db import loss_db
from common_utils import (DEVICES, FLOAT_DTYPES, assert_bitwise_equal, assert_close, grad_output, requires_cuda,
                          same_layout_copy)


def _row_params(rows=op_db):
    return [pytest.param(row, id=row.name) for row in rows]


def _sample_params(attr: str):
    """(row, sample name) of every row's samples in the field attr; a row that opts out is one skipped case."""
    params = []
    for row in op_db:
        samples = getattr(row, attr)
        if isinstance(samples, OptOut):
            params.append(pytest.param(row, None, id=row.name, marks=pytest.mark.skip(reason=samples.reason)))
        else:
            params += [pytest.param(row, name, id=f"{row.name}-{name}") for name in samples]
    return params


def _tensors(out) -> list:
    """The tensors of an op's result (a tensor, a tuple of them, or None for an in-place op returning ())."""
    if out is None:
        return []
    return [out] if isinstance(out, torch.Tensor) else [t for t in out if isinstance(t, torch.Tensor)]


def _meta_twin(t: torch.Tensor) -> torch.Tensor:
    return torch.empty_strided(t.size(), t.stride(), dtype=t.dtype, device="meta")


# --------------------------------------------------------------------------------------------
# Meta kernels: the same shapes, strides and dtypes as the real ones, for every op of a row
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("row,sample", _sample_params("samples"))
def test_meta_matches_real(row, sample):
    for dtype in (torch.float32, torch.float16):
        s = row.samples[sample](dtype, "cpu")
        g = grad_output(s.input)
        real = row.op_calls(s, g, lambda t: same_layout_copy(t)[0])
        meta = row.op_calls(s.replace_tensors(_meta_twin), g.to("meta"), _meta_twin)
        assert [name for name, _ in real] == [name for name, _ in meta]
        for (name, real_call), (_, meta_call) in zip(real, meta):
            r, m = _tensors(real_call()), _tensors(meta_call())
            assert len(r) == len(m), name
            for rt, mt in zip(r, m):
                assert mt.device.type == "meta", name
                assert (mt.shape, mt.stride(), mt.dtype) == (rt.shape, rt.stride(), rt.dtype), (name, dtype)


# --------------------------------------------------------------------------------------------
# Autograd plumbing: grad mode, each differentiable input, inference mode, double backward
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", _row_params())
def test_grad_mode(row, device):
    s = row.samples[row.small_sample](torch.float32, device)
    assert not row.op(s.input, *s.args, **s.kwargs).requires_grad
    for i in range(len(s.tensors)):
        # Only the i-th tensor requires grad (PReLU: the input or the weight alone).
        k = iter(range(len(s.tensors)))
        leafs = s.replace_tensors(lambda t: t.detach().clone().requires_grad_(next(k) == i))
        with torch.no_grad():
            assert not row.op(leafs.input, *leafs.args, **leafs.kwargs).requires_grad
        out = row.op(leafs.input, *leafs.args, **leafs.kwargs)
        assert out.requires_grad and row.autograd_function in out.grad_fn.name(), out.grad_fn.name()
        if not row.random:
            wrt = leafs.tensors[i]
            (ours,) = torch.autograd.grad(out, wrt, torch.ones_like(out))
            (theirs,) = torch.autograd.grad(row.ref(leafs.input, *leafs.args, **leafs.kwargs), wrt, torch.ones_like(out))
            assert_close(ours, theirs)
    with torch.inference_mode():
        torch.manual_seed(3)
        out = row.op(s.input, *s.args, **s.kwargs)
    torch.manual_seed(3)
    if row.random:
        assert_bitwise_equal(out, row.op(s.input, *s.args, **s.kwargs))
    else:
        assert_close(out, row.ref(s.input, *s.args, **s.kwargs))
    # The backward op's output is differentiable too (double backward).
    g = grad_output(s.input).requires_grad_()
    backward = [call for name, call in row.op_calls(s, g, lambda t: t.clone()) if name == row.backward_op]
    assert backward, row.backward_op
    for call in backward:
        assert _tensors(call())[0].requires_grad, row.backward_op


# --------------------------------------------------------------------------------------------
# torch.library.opcheck: schema, autograd registration, fake tensors, AOT dispatch
# --------------------------------------------------------------------------------------------

def _opcheck_params():
    params = []
    for row in op_db:
        if isinstance(row.opcheck, OptOut):
            params.append(pytest.param(row, None, None, None, False, id=row.name,
                                       marks=pytest.mark.skip(reason=row.opcheck.reason)))
            continue
        for sample, dtype in row.opcheck.samples:
            for call, make in row.opcheck.calls.items():
                made = make(row.samples[sample](dtype, "meta"))
                if made is None:
                    continue  # not made on this sample
                inplace = made[2]
                for requires_grad in (False,) if inplace else (False, True):
                    params.append(pytest.param(
                        row, sample, dtype, call, requires_grad,
                        id=f"{row.name}-{sample}-{str(dtype)[6:]}-{call}-{'requires_grad' if requires_grad else 'no_grad'}"))
    return params


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row,sample,dtype,call,requires_grad", _opcheck_params())
def test_opcheck(row, sample, dtype, call, requires_grad, device):
    op, args, inplace = row.opcheck.calls[call](row.samples[sample](dtype, device))
    if inplace:
        args = (same_layout_copy(args[0])[0],) + args[1:]  # a fresh input with the sample's layout
    else:
        args = tuple(a.detach().requires_grad_(requires_grad) if isinstance(a, torch.Tensor) else a for a in args)
    assert isinstance(op, torch._ops.OpOverload) and op.namespace == "torch_ext", op
    torch.library.opcheck(op, args)


# --------------------------------------------------------------------------------------------
# Determinism: every op of a row gives the same bits with 1, 2 and 3 intra-op threads
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("row,sample", _sample_params("thread_samples"))
def test_thread_count_independent(row, sample, dtype):
    s = row.thread_samples[sample](dtype, "cpu")
    g = grad_output(s.input)

    def run():
        outs = []
        for name, call in row.op_calls(s, g, lambda t: same_layout_copy(t)[0]):
            torch.manual_seed(5)  # the random ops draw the same numbers each run
            outs += [(name, t) for t in _tensors(call())]
        # And through autograd: the forward and the gradient of each tensor input.
        torch.manual_seed(7)
        leafs = s.replace_tensors(lambda t: t.detach().requires_grad_())
        y = row.op(leafs.input, *leafs.args, **leafs.kwargs)
        grads = torch.autograd.grad(y, leafs.tensors, grad_output(y, seed=3))
        return outs + [("autograd forward", y.detach())] + [(f"autograd grad {i}", t) for i, t in enumerate(grads)]

    results = {}
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        results[threads] = run()
    assert len(results[1]) >= 3, [name for name, _ in results[1]]
    for threads in (2, 3):
        assert [n for n, _ in results[threads]] == [n for n, _ in results[1]]
        for (name, a), (_, b) in zip(results[1], results[threads]):
            assert_bitwise_equal(b, a, f"{row.name} {name} with {threads} threads vs 1")


# --------------------------------------------------------------------------------------------
# Convention: no kernel calls the ATen op it replaces (ATen is the reference only)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row,sample", _sample_params("large_samples"))
def test_does_not_call_aten(row, sample, device):
    s = row.large_samples[sample](torch.float32, device)
    x = s.input.requires_grad_()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], acc_events=True) as prof:
        y = row.op(x, *s.args, **s.kwargs)
        y.backward(torch.ones_like(y))
        if row.inplace is not None:
            row.inplace(x.detach().clone(), *s.args, **s.kwargs)
    names = {e.name for e in prof.events()}
    assert not (names & row.forbidden_aten), sorted(names & row.forbidden_aten)
    expected = {f"torch_ext::{op}" for op in (row.forward_op, row.backward_op, row.inplace_op) if op}
    assert expected <= names, sorted(names)


# --------------------------------------------------------------------------------------------
# CUDA: every op of a row on a side stream gives what it gives on the current stream
# --------------------------------------------------------------------------------------------

@requires_cuda
@pytest.mark.parametrize("row,sample", _sample_params("large_samples"))
def test_cuda_side_stream(row, sample):
    s = row.large_samples[sample](torch.float32, "cuda")
    g = grad_output(s.input)

    def run():
        torch.manual_seed(3)  # the random ops draw the same numbers each run
        return [(name, _tensors(call())) for name, call in row.op_calls(s, g, lambda t: same_layout_copy(t)[0])]

    expected = run()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            results = run()
            out = row.op(s.input, *s.args, **s.kwargs)
    torch.cuda.current_stream().wait_stream(side)
    torch.cuda.synchronize()
    for (name, want), (_, got) in zip(expected, results):
        for w, o in zip(want, got):
            assert_bitwise_equal(o, w, name)
    if not row.random:
        assert_close(out, row.ref(s.input, *s.args, **s.kwargs))


# --------------------------------------------------------------------------------------------
# Completeness: a new op, layer or function without a row fails here
# --------------------------------------------------------------------------------------------

# The out= forms of an op (its functional form's row covers them).
OUT_OVERLOADS = {"default", "out", "grad_input"}


def _registered_ops() -> dict:
    """{op name: [overload names]} of every op registered under torch_ext::."""
    ops = {}
    for qualified in torch._C._dispatch_get_all_op_names():
        if qualified.startswith("torch_ext::"):
            name, _, overload = qualified.split("::", 1)[1].partition(".")
            ops.setdefault(name, []).append(overload or "default")
    return ops


def test_every_op_has_a_row():
    registered = _registered_ops()
    assert "elu" in registered and "softmax_backward" in registered, sorted(registered)
    covered = ({op for row in op_db for op in row.ops} | {op for row in loss_db for op in row.ops} |
               set(hsoftmax_db.OPS))
    assert sorted(set(registered) - covered) == [], ("registered ops without a row in torch_ext/testing/op_db.py (or "
                                                     "loss_db.py, hsoftmax_db.py)")
    assert sorted(covered - set(registered)) == [], "rows name ops that are not registered"
    for name, overloads in registered.items():
        assert set(overloads) <= OUT_OVERLOADS, f"torch_ext::{name} has overloads no row covers: {overloads}"
    for row in op_db:
        for op in (row.forward_op, row.backward_op, row.inplace_op):
            assert op is None or op in registered, (row.name, op)
    for row in loss_db:
        assert row.forward_op in registered, row.name


def test_every_layer_and_function_has_a_row():
    layers = {name for name in TN.__all__ if inspect.isclass(getattr(TN, name))}
    assert layers == ({row.module.name for row in op_db} | {row.module.name for row in loss_db} |
                      {hsoftmax_db.MODULE}), (
        "torch_ext.nn layers and the tables' modules differ")
    assert set(TF.__all__) == {row.functional for row in op_db} | {row.name for row in loss_db}, (
        "torch_ext.functional and the tables differ")
    for row in op_db:
        assert getattr(TF, row.functional) is not None and row.module.cls.__name__ == row.module.torch_cls.__name__
        ours, theirs = row.module.cls(**row.module.ctor_kwargs), row.module.torch_cls(**row.module.ctor_kwargs)
        for name in row.module.constants:
            assert getattr(ours, name) == getattr(theirs, name), (row.name, name)


# The row fields the table-driven test families need (the family: where it runs). A row fills each, or opts out
# with an OptOut and its reason: a new op does not pass without answering each.
TABLE_FIELDS = {
    "autocast": "tests/test_autocast.py::test_autocast_kernels_mirror_aten",
    "bench_args": "torch_ext/bench/cases.py (the benchmark's call)",
    "error_calls": "tests/test_errors.py (the bad-dtype cases of every op, and docs/errors.md)",
    "thread_samples": "tests/test_ops.py::test_thread_count_independent",
    "opcheck": "tests/test_ops.py::test_opcheck",
    "module.ctor_args": "tests/test_nn.py::TestModules (repr, state_dict, copy and pickle against torch.nn's)",
    "parity_samples": "tests/test_op_db.py (forward, backward, double backward and in-place parity; each CPU ISA)",
    "special_samples": "tests/test_op_db.py::test_special_values_*",
    "gradcheck_samples": "tests/test_op_db.py::test_gradcheck (forward and reverse mode, gradgradcheck)",
    "inplace_backward_allowed": "tests/test_op_db.py::test_gradcheck and test_compile_fullgraph (the in-place forms)",
    "zero_signs_like_ref": "tests/test_op_db.py::test_forward_parity and test_special_values_forward",
    "autograd": "tests/test_autograd.py (forward-mode AD, NaN gradients, vmap and jacfwd, the backward ops' forward AD)",
    "large": "tests/test_large.py (more than 2**31 elements: 64-bit indexing)",
    "bench_copy_goal": "torch_ext/bench/report.py's goals (the fraction of copy's bandwidth)",
    "fuzz": "tests/test_fuzz.py (the property tests)",
}


def _field(row, path: str):
    value = row
    for part in path.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize("field", list(TABLE_FIELDS))
@pytest.mark.parametrize("row", _row_params())
def test_every_row_fills_the_table_fields(row, field):
    value = _field(row, field)
    if isinstance(value, OptOut):
        assert value.reason.strip(), f"{row.name}.{field}: an OptOut needs a reason"
        return
    # (bench_args and bench_copy_goal may be empty: no arguments, no such goal)
    assert value is not None and (not isinstance(value, (tuple, list, dict)) or value
                                  or field in ("bench_args", "bench_copy_goal")), (
        f"{row.name}.{field} is missing: {TABLE_FIELDS[field]} needs it (or an OptOut with a reason)")
