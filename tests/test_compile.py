"""torch.compile (fullgraph) and torch.export through the torch_ext ops."""

import pytest
import torch
import torch._dynamo
import torch.nn as nn
import torch.nn.functional as F

import torch_ext.functional as TF
import torch_ext.nn as TN
from common_utils import DEVICES, assert_close, compiling_with_decompositions, make_input, requires_cuda


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _leaf(device, dtype=torch.float32, seed=0):
    return make_input("channels_last", dtype, device, seed=seed).requires_grad_()


class TestCompile:
    # (Fullgraph of every op and layer, in place too, and dynamic shapes without recompiles:
    # tests/test_op_db.py::test_compile_*, over the op table's rows.)

    @pytest.mark.parametrize("decomposed", [False, True], ids=["kernels", "decomposed"])
    @pytest.mark.parametrize("device", DEVICES)
    def test_inductor(self, device, decomposed):
        # One case through Inductor (C++ codegen on CPU, Triton on CUDA): the custom ops become extern
        # kernels between fused pointwise kernels, forward and backward; or, decomposed
        # (torch_ext.inductor), are fused with them.
        with compiling_with_decompositions(decomposed):
            def fn(x):
                y = x * 2.0
                TF.celu(y, 0.5, inplace=True)
                return TF.elu(y + 1.0, 0.7) * TF.selu(x)

            compiled = torch.compile(fn, backend="inductor", fullgraph=True)
            leaf = _leaf(device)
            out = compiled(leaf)
            (grad,) = torch.autograd.grad(out.sum(), leaf)

            def ref_fn(x):
                y = x * 2.0
                F.celu(y, 0.5, inplace=True)
                return F.elu(y + 1.0, 0.7) * F.selu(x)

            ref_leaf = leaf.detach().clone().requires_grad_()
            ref = ref_fn(ref_leaf)
            (ref_grad,) = torch.autograd.grad(ref.sum(), ref_leaf)
            torch.testing.assert_close(out, ref)
            torch.testing.assert_close(grad, ref_grad)

    @requires_cuda
    def test_cuda_reduce_overhead(self):
        # CUDA graphs: kernels must launch on the current stream.
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(64, 64), TN.ELU(0.5), nn.Linear(64, 64), TN.SELU()).cuda()
        ref = nn.Sequential(nn.Linear(64, 64), nn.ELU(0.5), nn.Linear(64, 64), nn.SELU()).cuda()
        ref.load_state_dict(model.state_dict())
        compiled = torch.compile(model, mode="reduce-overhead", fullgraph=True)
        for step in range(4):
            x = torch.randn(32, 64, device="cuda")
            with torch.no_grad():
                out = compiled(x).clone()
                torch.testing.assert_close(out, ref(x), msg=lambda m: f"step {step}: {m}")


class TestExport:
    @pytest.mark.parametrize("device", DEVICES)
    def test_export_keeps_custom_op(self, device):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), TN.ELU(0.5), TN.CELU(2.0), TN.SELU(), nn.Linear(8, 2)).to(device)
        x = make_input(lambda v: v((4, 6)), torch.float32, device)
        batch = torch.export.Dim("batch", min=2, max=64)
        ep = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
        ops = torch.ops.torch_ext
        targets = [n.target for n in ep.graph.nodes if n.op == "call_function"]
        # Export keeps each activation as its own torch_ext op (celu and selu are composite ops)...
        for op in (ops.elu.default, ops.celu.default, ops.selu.default):
            assert targets.count(op) == 1, targets
        # ...and decomposing them leaves three torch_ext.elu nodes, never ATen's elu.
        decomposed = ep.run_decompositions()
        targets = [n.target for n in decomposed.graph.nodes if n.op == "call_function"]
        assert targets.count(ops.elu.default) == 3, targets
        assert not any("aten.elu" in str(t) for t in targets), targets
        torch.testing.assert_close(decomposed.module()(x), model(x))
        for n in (4, 17):
            xi = make_input(lambda v: v((n, 6)), torch.float32, device, seed=n)
            torch.testing.assert_close(ep.module()(xi), model(xi))
        ref = nn.Sequential(nn.Linear(6, 8), nn.ELU(0.5), nn.CELU(2.0), nn.SELU(), nn.Linear(8, 2)).to(device)
        ref.load_state_dict(model.state_dict())
        torch.testing.assert_close(ep.module()(x), ref(x))

    @pytest.mark.parametrize("device", DEVICES)
    def test_export_inplace_module(self, device):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(6, 8), TN.ELU(0.5, inplace=True), nn.Linear(8, 2)).to(device)
        x = make_input(lambda v: v((4, 6)), torch.float32, device)
        ep = torch.export.export(model, (x,))
        assert "torch_ext.elu" in str(ep.graph)
        torch.testing.assert_close(ep.module()(x), model(x))
        ref = nn.Sequential(nn.Linear(6, 8), nn.ELU(0.5, inplace=True), nn.Linear(8, 2)).to(device)
        ref.load_state_dict(model.state_dict())
        torch.testing.assert_close(ep.module()(x), ref(x))
