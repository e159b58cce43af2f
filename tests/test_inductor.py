"""torch_ext.inductor: Inductor's decompositions of the ops, over the op table. A decomposed op is fused (no
torch_ext call left in the generated code) and computes what torch_ext's kernel does, forward and backward,
special values included; an op not chosen, RReLU's training mode, CUDA, export and AOTInductor keep the kernel."""

import json
import os
import math
import pathlib
import subprocess
import sys

import pytest
import torch
import torch._dynamo
from torch._inductor.utils import run_and_get_code

import torch_ext
from torch_ext import inductor
from torch_ext.testing.op_db import SampleInput, op_db
from common_utils import DEVICES, assert_close, grad_output, requires_cuda, same_layout_copy, values_with_specials


def _inductor_row(row):
    """The torch_ext.inductor row an op-table row runs through (celu and selu are elu), or None."""
    if row.random:
        return None
    rows = [name for name, formulas in inductor._DECOMPOSITIONS.items() if row.backward_op in formulas]
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


DECOMPOSED_ROWS = [pytest.param(row, id=row.name) for row in op_db if _inductor_row(row)]


@pytest.fixture(autouse=True)
def _fresh_compile():
    # Inductor's caches do not key on decompositions: each test compiles afresh.
    chosen = inductor.decomposed_ops()
    torch._dynamo.reset()
    with torch.compiler.config.patch(force_disable_caches=True):
        yield
    inductor.set_decomposed_ops(chosen)
    torch._dynamo.reset()


def _forward_backward(fn, sample, g):
    """fn's output, and the gradients of its tensor arguments (the input's, PReLU's weight's)."""
    leaves = []

    def leaf(t):
        _, base = same_layout_copy(t)
        leaves.append(base.requires_grad_().as_strided(t.size(), t.stride(), t.storage_offset()))
        return leaves[-1]

    s = sample.replace_tensors(leaf)
    out = fn(s.input, *s.args, **s.kwargs)
    return out, torch.autograd.grad(out, leaves, g)


def _compiled_code(row, sample, g):
    compiled = torch.compile(row.op, backend="inductor", fullgraph=True)
    (out, grads), code = run_and_get_code(_forward_backward, compiled, sample, g)
    return out, grads, "\n".join(code)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64], ids=str)
@pytest.mark.parametrize("row", DECOMPOSED_ROWS)
def test_decomposed_is_fused_and_matches_the_kernel(row, dtype):
    inductor.set_decomposed_ops({_inductor_row(row)})
    sample = row.samples[row.small_sample](dtype, "cpu")
    g = grad_output(sample.input)
    out, grads, code = _compiled_code(row, sample, g)
    assert "torch_ext" not in code, f"{row.name}: Inductor kept a torch_ext op although it was decomposed"
    # Against torch_ext's kernel, and against torch (torch.nn.functional's op in the same dtype). Not torch in
    # bfloat16: there ATen's softmax rounds some elements an ulp the other way (ours are judged against float64
    # by the validation report).
    tol = row.tolerances[dtype]
    for reference in (row.op,) if dtype == torch.bfloat16 else (row.op, row.ref):
        ref_out, ref_grads = _forward_backward(reference, sample, g)
        assert_close(out, ref_out, **tol)
        for got, want in zip(grads, ref_grads):
            assert_close(got, want, **tol)


@pytest.mark.parametrize("row", [p for p in DECOMPOSED_ROWS if p.values[0].family != "softmax"])
def test_decomposed_special_values(row):
    # NaN, ±inf, ±0, the largest finite values: the branches the kernels take (NaN in, NaN out).
    inductor.set_decomposed_ops({_inductor_row(row)})
    sample = row.samples[row.small_sample](torch.float32, "cpu")
    specials = values_with_specials(torch.float32, every=2)(sample.input.shape).to(torch.float32)
    sample = SampleInput(specials, sample.args, sample.kwargs)
    g = grad_output(specials)
    out, grads, code = _compiled_code(row, sample, g)
    assert "torch_ext" not in code
    ref_out, ref_grads = _forward_backward(row.op, sample, g)
    assert_close(out, ref_out, equal_nan=True, **row.tolerances[torch.float32])
    for got, want in zip(grads, ref_grads):
        assert_close(got, want, equal_nan=True, **row.tolerances[torch.float32])


@pytest.mark.parametrize("device", DEVICES)
def test_not_chosen_keeps_the_kernels(device):
    # No op chosen: every row's forward and backward op stays a torch_ext call in the generated code.
    inductor.set_decomposed_ops(())
    rows = [row for row in op_db if row.small_sample in row.samples]
    samples = [row.samples[row.small_sample](torch.float32, device) for row in rows]

    def all_rows(*inputs):
        return [row.op(x, *s.args, **s.kwargs) for row, s, x in zip(rows, samples, inputs)]

    inputs = [s.input.detach().clone().requires_grad_() for s in samples]
    compiled = torch.compile(all_rows, backend="inductor", fullgraph=True)

    def run():
        outs = compiled(*inputs)
        torch.autograd.grad(outs, inputs, [grad_output(o) for o in outs])

    _, code = run_and_get_code(run)
    code = "\n".join(code)
    for row in rows:
        # celu and selu are composite: they reach Inductor as elu, which the elu row checks.
        if not torch._C._dispatch_has_kernel_for_dispatch_key(f"torch_ext::{row.forward_op}",
                                                               "CompositeImplicitAutograd"):
            assert f"torch.ops.torch_ext.{row.forward_op}.default(" in code, row.name
        assert f"torch.ops.torch_ext.{row.backward_op}.default(" in code, row.name


def test_rrelu_training_keeps_the_kernel():
    # Random slopes are the kernel's (Philox) stream: decomposing rrelu does not touch training mode.
    inductor.set_decomposed_ops(inductor.DECOMPOSABLE)
    x = torch.randn(64, 32, requires_grad=True)
    compiled = torch.compile(lambda t: torch_ext.functional.rrelu(t, 0.1, 0.3, training=True), fullgraph=True)
    torch.manual_seed(0)
    out, code = run_and_get_code(lambda: compiled(x))
    assert "torch_ext.rrelu_with_noise" in "\n".join(code)
    torch.manual_seed(0)
    torch.testing.assert_close(out, torch_ext.functional.rrelu(x, 0.1, 0.3, training=True))


@requires_cuda
def test_cuda_keeps_the_kernel():
    # Not measured on a GPU yet: CUDA keeps torch_ext's kernels.
    inductor.set_decomposed_ops(inductor.DECOMPOSABLE)
    x = torch.randn(64, 32, device="cuda")
    compiled = torch.compile(lambda t: torch_ext.functional.elu(t) * 2, fullgraph=True)
    out, code = run_and_get_code(lambda: compiled(x))
    assert "torch_ext.elu" in "\n".join(code)
    torch.testing.assert_close(out, torch_ext.functional.elu(x) * 2)


# (Calls the forward op's decomposition on the row's sample: of the rows with the op's own arguments, not those that
# only compose another row's kernels, Softmax2d's layer.)
@pytest.mark.parametrize("row", [p for p in DECOMPOSED_ROWS if p.values[0].forward_op in inductor._DECOMPOSITIONS
                                 and p.values[0].kernels_of is None])
def test_aot_compilation_keeps_the_kernel(row):
    # AOTInductor compiles under V.aot_compilation: every decomposition there declines, so a deployed program
    # calls torch_ext's kernels (tests/test_demo.py runs one from C++).
    from torch._inductor.decomposition import decompositions
    from torch._inductor.virtualized import V

    inductor.set_decomposed_ops(inductor.DECOMPOSABLE)
    forward = getattr(torch.ops.torch_ext, row.forward_op).default
    sample = row.samples[row.small_sample](torch.float32, "cpu")
    assert isinstance(decompositions[forward](sample.input, *sample.args, **sample.kwargs), torch.Tensor)
    with V.set_aot_compilation(True):
        assert decompositions[forward](sample.input, *sample.args, **sample.kwargs) is NotImplemented


def test_export_keeps_the_ops():
    inductor.set_decomposed_ops(inductor.DECOMPOSABLE)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch_ext.nn.ELU(), torch_ext.nn.Softplus()).eval()
    ep = torch.export.export(model, (torch.randn(4, 8),))
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    assert {"torch_ext.elu.default", "torch_ext.softplus.default"} <= targets, targets


def test_rejected_input_keeps_the_ops_error():
    # An integer input is not decomposed: the op's own check fails, under compile as in eager code.
    inductor.set_decomposed_ops(inductor.DECOMPOSABLE)
    x = torch.arange(6)
    with pytest.raises(RuntimeError, match="elu") as eager:
        torch_ext.functional.elu(x)
    with pytest.raises(Exception, match="elu") as compiled:
        torch.compile(lambda t: torch_ext.functional.elu(t), fullgraph=True)(x)
    assert str(eager.value).splitlines()[0] in str(compiled.value)


def test_set_decomposed_ops_checks_its_argument():
    with pytest.raises(ValueError, match=r"unknown op\(s\) \['gelu'\]; expected names from"):
        inductor.set_decomposed_ops({"elu", "gelu"})
    with pytest.raises(TypeError, match="expected names to be a collection of op names, got the string 'elu'"):
        inductor.set_decomposed_ops("elu")
    inductor.set_decomposed_ops(["softmax"])
    assert inductor.decomposed_ops() == {"softmax"}
    assert inductor.DEFAULT_DECOMPOSED <= inductor.DECOMPOSABLE


def test_every_op_row_is_decomposable_or_random():
    # A new op gets a decomposition (or is random, and stays a kernel): the table and torch_ext.inductor agree.
    for row in op_db:
        assert row.random or _inductor_row(row), f"{row.name}: no torch_ext.inductor decomposition"
    covered = {op for formulas in inductor._DECOMPOSITIONS.values() for op in formulas}
    assert covered <= {op for row in op_db for op in row.ops} | {"rrelu"}, covered


def test_defaults_follow_the_committed_measurement():
    # DEFAULT_DECOMPOSED is what bench/results/cpu-2026-12-06-inductor-decompositions/ measured: an op decomposes
    # where Inductor's fused code beat torch_ext's kernel in geometric mean over the model benchmark's passes.
    from torch_ext.bench.model import ACTS

    folder = pathlib.Path(__file__).resolve().parents[1] / "bench/results/cpu-2026-12-06-inductor-decompositions"
    if not folder.is_dir():  # scripts/torch_range.sh copies the sources without bench/results
        pytest.skip("no committed benchmark results in this copy of the sources")
    ratios = {}
    for path in sorted(folder.glob("model-*.json")):
        for r in json.loads(path.read_text())["results"]:
            if r["activation"] not in ACTS:  # the classifier: all rows at once
                continue
            ratios.setdefault(ACTS[r["activation"]][1], []).append(r["decomposed_ms"] / r["torch_ext_ms"])
    assert set(ratios) == inductor.DECOMPOSABLE
    faster = {row for row, rs in ratios.items() if math.prod(rs) ** (1 / len(rs)) < 1}
    assert faster == inductor.DEFAULT_DECOMPOSED, {row: math.prod(rs) ** (1 / len(rs)) for row, rs in ratios.items()}


@pytest.mark.parametrize("inductor_first", [False, True], ids=["torch_ext_first", "inductor_first"])
def test_registration_without_importing_inductor(inductor_first):
    # import torch_ext does not import Inductor (seconds); the decompositions reach Inductor's table whichever
    # is imported first.
    code = ("import sys, torch\n"
            + ("import torch._inductor.decomposition\n" if inductor_first else "")
            + "import torch_ext\n"
            + ("" if inductor_first else "assert 'torch._inductor.decomposition' not in sys.modules\n")
            + "from torch._inductor.decomposition import decompositions, select_decomp_table\n"
            + "for op in ('elu', 'elu_backward', 'softmax', 'log_softmax_backward'):\n"
            + "    assert getattr(torch.ops.torch_ext, op).default in select_decomp_table(), op\n")
    root = pathlib.Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(root)))
    assert proc.returncode == 0, proc.stderr
