"""Every torch_ext.nn module under torch.jit.script and torch.jit.trace: same outputs and gradients as
eager, the torch_ext ops in the TorchScript graph, and a save/load round trip."""

import io
import warnings

import pytest
import torch
import torch.nn as nn

import torch_ext.nn as TN
from common_utils import DEVICES, assert_close
from torch_ext.testing import op_db

# TorchScript is deprecated upstream (torch.export is its successor; torch 2.15 warns on every
# torch.jit.script/trace/save/load) but still what many C++ users load. Its notices are expected here; the
# demo shows them (test_torchscript_deprecation_is_shown_by_the_demo).
pytestmark = [
    pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:FutureWarning"),
]

WIDTH = 16  # the features of the models' Linear layers (the op table's PReLU has 16 parameters)


def _modules() -> dict:
    """name -> (factory of the torch_ext module, its torch.nn twin, input shape, the op its graph must call): every
    layer of the op table with the row's non-default arguments, so that a constant lost on the way (e.g. alpha back
    to 1) shows, and in place where it has the argument. The factories are lazy: a module that is missing fails its
    own cases only."""
    modules = {}
    for row in op_db:
        m = row.module
        if m.name in modules or row.random:
            continue  # RReLU: one layer for its two rows, in eval mode (the models are)
        kwargs = m.ctor_kwargs
        shape = (6, *m.inner_dims, WIDTH)
        # The op the row's call dispatches to (softmin's and Softmax2d's: softmax).
        modules[m.name] = (lambda m=m, kw=kwargs: m.cls(**kw), lambda m=m, kw=kwargs: m.torch_cls(**kw), shape,
                           f"torch_ext::{row.forward_op}")
        if "inplace" in m.constants:
            kw = dict(kwargs, inplace=True)
            modules[f"{m.name}_inplace"] = (lambda m=m, kw=kw: m.cls(**kw), lambda m=m, kw=kw: m.torch_cls(**kw),
                                            shape, f"torch_ext::{row.inplace_op}")
    # One weight for every channel, on a 3-D input.
    modules["PReLU_shared"] = (lambda: TN.PReLU(), lambda: nn.PReLU(), (6, WIDTH, 3), "torch_ext::prelu")
    return modules


MODULES = _modules()


def _op(name: str) -> str:
    return MODULES[name][3]


def _model(factory, device):
    """The activation between two Linear layers (the in-place ones need a non-leaf input), in float64."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(WIDTH, WIDTH), factory(), nn.Linear(WIDTH, WIDTH)).to(device=device,
                                                                                      dtype=torch.float64)


def _input(shape, device):
    # Shapes with a trailing dim of WIDTH go through the Linear layers; (6, WIDTH, 3) is moved so dim -1 is WIDTH.
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    if len(shape) == 3:
        x = x.transpose(1, 2).contiguous()
    return x.to(device)


def _round_trip(module: torch.jit.ScriptModule, device) -> torch.jit.ScriptModule:
    buffer = io.BytesIO()
    torch.jit.save(module, buffer)
    buffer.seek(0)
    return torch.jit.load(buffer, map_location=device)


def _check_same(compiled, eager, x):
    """Outputs and parameter gradients of the TorchScript module equal eager's."""
    y, y_ref = compiled(x), eager(x)
    assert_close(y, y_ref)
    y.square().sum().backward()
    y_ref.square().sum().backward()
    for (name, p), (_, p_ref) in zip(compiled.named_parameters(), eager.named_parameters()):
        assert_close(p.grad, p_ref.grad, msg=lambda m: f"{name}: {m}")


@pytest.mark.parametrize("name", list(MODULES))
@pytest.mark.parametrize("device", DEVICES)
class TestTorchScript:
    def test_script(self, device, name):
        ext_factory, torch_factory, shape, _ = MODULES[name]
        eager = _model(ext_factory, device).eval()
        scripted = torch.jit.script(_model(ext_factory, device).eval())
        graph = str(scripted.inlined_graph)
        assert _op(name) in graph, graph
        assert "aten::" + _op(name).split("::")[1].rstrip("_") not in graph, graph
        x = _input(shape, device)
        _check_same(scripted, eager, x)
        # And the same function as torch.nn's layer under the same weights.
        reference = _model(torch_factory, device).eval()
        reference.load_state_dict(eager.state_dict())
        assert_close(scripted(x), reference(x))

    def test_script_save_load(self, device, name):
        ext_factory, _, shape, _ = MODULES[name]
        eager = _model(ext_factory, device).eval()
        loaded = _round_trip(torch.jit.script(_model(ext_factory, device).eval()), device)
        assert _op(name) in str(loaded.inlined_graph)
        assert loaded.state_dict().keys() == eager.state_dict().keys()
        _check_same(loaded, eager, _input(shape, device))

    def test_trace_save_load(self, device, name):
        ext_factory, _, shape, _ = MODULES[name]
        x = _input(shape, device)
        eager = _model(ext_factory, device).eval()
        traced = torch.jit.trace(_model(ext_factory, device).eval(), (x.clone(),))
        assert _op(name) in str(traced.inlined_graph)
        loaded = _round_trip(traced, device)
        # Another batch size than the trace's: nothing about the shape was baked in.
        x2 = torch.cat([x, x[:2] * 0.5])
        _check_same(traced, eager, x2)
        _check_same(loaded, _model(ext_factory, device).eval(), x2)


@pytest.mark.parametrize("device", DEVICES)
class TestTorchScriptModes:
    def test_scripted_rrelu_follows_train_and_eval(self, device):
        # Script keeps `self.training` an attribute: eval() on the loaded module switches RReLU to its
        # fixed slope, train() back to random slopes (the same ones as eager from the same seed).
        eager = TN.RReLU(0.1, 0.3).to(device)
        loaded = _round_trip(torch.jit.script(TN.RReLU(0.1, 0.3)), device)
        x = -torch.rand(4096, dtype=torch.float64, device=device) - 0.5
        for mode in ("train", "eval", "train"):
            getattr(eager, mode)()
            getattr(loaded, mode)()
            torch.manual_seed(7)
            y = loaded(x)
            torch.manual_seed(7)
            y_ref = eager(x)
            assert torch.equal(y, y_ref), mode
            slopes = y / x
            if mode == "eval":
                assert_close(slopes, torch.full_like(slopes, 0.2))
            else:
                assert slopes.min() >= 0.1 and slopes.max() <= 0.3 and slopes.std() > 0.03, mode

    def test_scripted_classifier(self, device):
        # The demo's classifier of every torch_ext layer, scripted and traced, after a round trip.
        from torch_ext.demo.model import classifier

        torch.manual_seed(0)
        model = classifier(hidden=16).to(device).eval()
        x = torch.rand(9, 64, device=device)
        y = model(x)
        for compiled in (torch.jit.script(model), torch.jit.trace(model, (x,))):
            graph = str(compiled.inlined_graph)
            for op in ("prelu", "elu", "selu", "softplus", "rrelu", "log_softmax"):
                assert f"torch_ext::{op}" in graph, (op, graph)
            torch.testing.assert_close(_round_trip(compiled, device)(x), y)


def test_torchscript_deprecation_is_shown_by_the_demo(tmp_path):
    """The demo's export returns the TorchScript deprecation notices this torch gives (none before 2.15),
    one line each, for the demo to print, and passes no such warning on; the model still round-trips."""
    from torch_ext.demo import export

    model = nn.Sequential(nn.Linear(5, 5), TN.ELU(alpha=0.7)).eval()
    with warnings.catch_warnings(record=True) as direct:
        warnings.simplefilter("always")
        torch.jit.script(model).save(str(tmp_path / "direct.pt"))  # as the demo saves
    torch_gives = sorted({str(w.message).splitlines()[0] for w in direct if export.is_torchscript_deprecation(w)})
    if tuple(int(v) for v in torch.__version__.split(".")[:2]) >= (2, 15):
        assert torch_gives, "torch 2.15 deprecates torch.jit.script/save"
    with warnings.catch_warnings(record=True) as passed_on:
        warnings.simplefilter("always")
        path, notices = export.save_torchscript(model, tmp_path / "model.pt")
    assert notices == torch_gives
    assert not any(export.is_torchscript_deprecation(w) for w in passed_on)
    x = torch.randn(3, 5)
    assert_close(torch.jit.load(str(path))(x), model(x))
