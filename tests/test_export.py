"""torch.export of a whole model of torch_ext layers: the torch_ext ops stay in the graph (also after
the default decompositions), with a dynamic batch, and the exported program computes what eager does."""

import pytest
import torch

import torch.nn as nn

from common_utils import DEVICES
from stack_utils import graph_ops, torch_twin
from torch_ext.demo import export
from torch_ext.demo.model import classifier
from torch_ext.testing import op_db

MODEL_OPS = {"torch_ext.prelu", "torch_ext.elu", "torch_ext.selu", "torch_ext.softplus", "torch_ext.rrelu",
             "torch_ext.log_softmax"}


def _model(device):
    torch.manual_seed(0)
    return classifier(hidden=32).to(device).eval()


@pytest.mark.parametrize("device", DEVICES)
class TestExportModel:
    def test_ops_kept_with_dynamic_batch(self, device):
        model = _model(device)
        ep = export.export_program(model, torch.rand(8, 64, device=device))
        assert graph_ops(ep.graph_module, "torch_ext") == MODEL_OPS
        assert export.torch_ext_ops(ep) == MODEL_OPS
        aten = graph_ops(ep.graph_module, "aten")
        assert not {"aten.prelu", "aten.elu", "aten.selu", "aten.softplus", "aten.rrelu", "aten.log_softmax",
                    "aten._log_softmax"} & aten, aten
        for n in (1, 3, 200):
            x = torch.rand(n, 64, device=device)
            torch.testing.assert_close(ep.module()(x), model(x))
        # The same function as torch.nn's layers.
        x = torch.rand(5, 64, device=device)
        torch.testing.assert_close(ep.module()(x), torch_twin(model)(x))

    def test_decompositions_keep_torch_ext_ops(self, device):
        # The default decomposition table (to the core ATen opset) must not open the torch_ext ops up:
        # selu is composite (elu with SELU's constants), the others stay as they are.
        model = _model(device)
        x = torch.rand(8, 64, device=device)
        decomposed = export.export_program(model, x).run_decompositions()
        ops = graph_ops(decomposed.graph_module, "torch_ext")
        assert MODEL_OPS - {"torch_ext.selu"} <= ops, ops
        assert not {"aten.elu", "aten.prelu", "aten.softplus", "aten._log_softmax"} & graph_ops(
            decomposed.graph_module, "aten")
        torch.testing.assert_close(decomposed.module()(x), model(x))

    def test_save_load_round_trip(self, device, tmp_path):
        model = _model(device)
        x = torch.rand(8, 64, device=device)
        path = tmp_path / "model.pt2"
        torch.export.save(export.export_program(model, x), str(path))
        loaded = torch.export.load(str(path))
        assert graph_ops(loaded.graph_module, "torch_ext") == MODEL_OPS
        x2 = torch.rand(13, 64, device=device)
        torch.testing.assert_close(loaded.module()(x2), model(x2))


# Each layer of the op table once, by the row of its eval mode (RReLU's fixed slope: torch.nn's twin gives the same).
LAYER_ROWS = [row for i, row in enumerate(op_db)
              if not row.random and row.module.name not in {r.module.name for r in op_db[:i] if not r.random}]


@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in LAYER_ROWS])
@pytest.mark.parametrize("device", DEVICES)
def test_layer_op_kept(device, row):
    """One layer between two Linear layers, exported with a dynamic batch: its torch_ext op is called once, also
    after the default decompositions, none of the ATen ops it replaces is, and the program computes torch.nn's."""
    torch.manual_seed(0)
    m = row.module
    model = nn.Sequential(nn.Linear(6, 16), m.cls(**m.ctor_kwargs), nn.Linear(16, 2)).to(device).eval()
    reference = torch_twin(model)
    x = torch.rand(4, *m.inner_dims, 6, device=device)
    batch = torch.export.Dim("batch", min=2, max=64)
    ep = torch.export.export(model, (x,), dynamic_shapes=({0: batch},))
    forbidden = {name.replace("::", ".") for name in row.forbidden_aten}
    for gm, op in ((ep.graph_module, row.forward_op), (ep.run_decompositions().graph_module,
                                                      row.decomposed_op or row.forward_op)):
        targets = [n.target for n in gm.graph.nodes if n.op == "call_function"]
        assert targets.count(getattr(torch.ops.torch_ext, op).default) == 1, targets
        assert not graph_ops(gm, "aten") & forbidden, sorted(graph_ops(gm, "aten") & forbidden)
    for n in (4, 17):
        xi = torch.rand(n, *m.inner_dims, 6, device=device, generator=torch.Generator().manual_seed(n)).to(device)
        torch.testing.assert_close(ep.module()(xi), reference(xi))
