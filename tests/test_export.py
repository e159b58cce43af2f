"""torch.export of a whole model of torch_ext layers: the torch_ext ops stay in the graph (also after
the default decompositions), with a dynamic batch, and the exported program computes what eager does."""

import pytest
import torch

from common_utils import DEVICES
from stack_utils import graph_ops, torch_twin
from torch_ext.demo import export
from torch_ext.demo.model import classifier

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
