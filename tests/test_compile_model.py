"""A whole model of torch_ext layers under torch.compile(fullgraph=True): forward and backward in one
graph each (no graph break), the torch_ext ops and their backward ops in those graphs, and the same
outputs and gradients as eager torch.nn."""

import pytest
import torch
import torch._dynamo
import torch._dynamo.testing
import torch.nn as nn

from common_utils import DEVICES, compiling_with_decompositions
from stack_utils import GraphRecorder, graph_ops, torch_twin
from torch_ext.demo.model import classifier

# selu is a composite op: it reaches the graphs as torch_ext.elu with SELU's constants.
FORWARD_OPS = {"prelu", "elu", "softplus", "rrelu", "log_softmax"}


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def _model(device):
    torch.manual_seed(0)
    # No dropout: its random mask would be drawn differently by compiled and eager code.
    return classifier(hidden=32, dropout=0.0).to(device)


@pytest.mark.parametrize("device", DEVICES)
class TestCompileModel:
    def test_fullgraph_forward_backward_graphs(self, device):
        model = _model(device).eval()  # eval: RReLU's fixed slope, so torch.nn's twin gives the same values
        reference = torch_twin(model)
        rec = GraphRecorder()
        compiled = torch.compile(model, backend=rec.backend, fullgraph=True)
        x = torch.rand(16, 64, device=device)
        y = torch.randint(0, 10, (16,), device=device)
        for _ in range(2):  # the second call reuses the graphs
            loss = nn.functional.nll_loss(compiled(x), y)
            loss.backward()
            ref_loss = nn.functional.nll_loss(reference(x), y)
            ref_loss.backward()
        assert len(rec.forward) == 1 and len(rec.backward) == 1, (len(rec.forward), len(rec.backward))
        fw, bw = graph_ops(rec.forward_graphs[0], "torch_ext"), graph_ops(rec.backward_graphs[0], "torch_ext")
        assert {f"torch_ext.{op}" for op in FORWARD_OPS} <= fw, fw
        # Each op's backward is its own registered op in the backward graph.
        for op in FORWARD_OPS:
            assert any(name.startswith(f"torch_ext.{op}") and "backward" in name for name in bw), (op, bw)
        aten = graph_ops(rec.forward_graphs[0], "aten") | graph_ops(rec.backward_graphs[0], "aten")
        for op in ("prelu", "_prelu_kernel", "elu", "selu", "softplus", "rrelu_with_noise", "leaky_relu",
                   "_log_softmax", "log_softmax"):
            assert f"aten.{op}" not in aten, (op, aten)
        torch.testing.assert_close(loss, ref_loss)
        for (name, p), (_, p_ref) in zip(model.named_parameters(), reference.named_parameters()):
            torch.testing.assert_close(p.grad, p_ref.grad, msg=lambda m: f"{name}: {m}")

    def test_training_mode_matches_eager(self, device):
        # Training mode: RReLU draws its slopes from the default generator, in the compiled graph as in
        # eager code, so the same seed gives the same outputs and gradients.
        model = _model(device).train()
        eager = _model(device).train()
        counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")
        compiled = torch.compile(model, backend=counter, fullgraph=True)
        x = torch.rand(16, 64, device=device)
        y = torch.randint(0, 10, (16,), device=device)
        torch.manual_seed(3)
        out = compiled(x)
        nn.functional.nll_loss(out, y).backward()
        torch.manual_seed(3)
        ref = eager(x)
        nn.functional.nll_loss(ref, y).backward()
        assert counter.frame_count == 1
        torch.testing.assert_close(out, ref)
        for (name, p), (_, p_ref) in zip(model.named_parameters(), eager.named_parameters()):
            torch.testing.assert_close(p.grad, p_ref.grad, msg=lambda m: f"{name}: {m}")

    @pytest.mark.parametrize("decomposed", [False, True], ids=["kernels", "decomposed"])
    def test_inductor_training_steps(self, device, decomposed):
        # Inductor (C++ codegen on CPU): the torch_ext ops become extern kernels between generated ones, or,
        # decomposed (torch_ext.inductor), fused with them. A few optimizer steps of the compiled model track
        # eager torch.nn's.
        with compiling_with_decompositions(decomposed):
            model = _model(device).eval()
            reference = torch_twin(model)
            compiled = torch.compile(model, backend="inductor", fullgraph=True)
            opt = torch.optim.SGD(model.parameters(), lr=0.05)
            ref_opt = torch.optim.SGD(reference.parameters(), lr=0.05)
            gen = torch.Generator().manual_seed(0)
            for _ in range(3):
                x = torch.rand(32, 64, generator=gen).to(device)
                y = torch.randint(0, 10, (32,), generator=gen).to(device)
                for m, o in ((compiled, opt), (reference, ref_opt)):
                    o.zero_grad()
                    nn.functional.nll_loss(m(x), y).backward()
                    o.step()
            for (name, p), (_, p_ref) in zip(model.named_parameters(), reference.named_parameters()):
                torch.testing.assert_close(p, p_ref, rtol=1e-5, atol=1e-6, msg=lambda m: f"{name}: {m}")
