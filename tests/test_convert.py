"""torch_ext.nn.convert: an existing torch.nn model, its activation layers swapped for torch_ext's; and
torch_ext.nn.revert, which swaps them back."""

import copy

import pytest
import torch
import torch.nn as nn

import torch_ext.nn as TN
from common_utils import DEVICES, assert_close
from torch_ext.testing import op_db

# Every layer convert() replaces (the op table's with a torch.nn twin), with its non-default arguments, and the
# arguments it must keep.
LAYERS = {row.module.name: (lambda m=row.module: m.torch_cls(**m.ctor_kwargs)) for row in op_db if not row.module.twin}
ARGS = {row.module.name: row.module.constants for row in op_db if not row.module.twin}


def classifier():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(8, 16),
        nn.PReLU(16, init=0.1),
        nn.Linear(16, 16),
        nn.ELU(alpha=0.7),
        nn.Sequential(nn.Linear(16, 16), nn.SELU(), nn.Linear(16, 16), nn.CELU(1.3)),
        nn.Softplus(beta=2.0, threshold=5.0),
        nn.Linear(16, 16),
        nn.RReLU(0.1, 0.2),
        nn.Linear(16, 4),
        nn.LogSoftmax(dim=1),
    )


class TestConvert:
    @pytest.mark.parametrize("name", list(LAYERS))
    def test_each_layer_replaced_with_its_arguments(self, name):
        layer = LAYERS[name]()
        new = TN.convert(layer)
        assert type(new) is getattr(TN, name)
        for arg in ARGS[name]:
            assert getattr(new, arg) == getattr(layer, arg), arg
        assert repr(new) == repr(layer)
        assert new.state_dict().keys() == layer.state_dict().keys()

    @pytest.mark.parametrize("device", DEVICES)
    def test_model_outputs_and_gradients_unchanged(self, device):
        model = classifier().to(device).eval()  # eval: RReLU is deterministic
        reference = copy.deepcopy(model)
        converted = TN.convert(model)
        assert converted is model  # the root is not a replaced layer: children swapped in place
        kinds = {type(m) for m in converted.modules()}
        assert not kinds & {nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.Softplus, nn.RReLU, nn.LogSoftmax}
        assert {TN.PReLU, TN.ELU, TN.SELU, TN.CELU, TN.Softplus, TN.RReLU, TN.LogSoftmax} <= kinds
        assert converted.state_dict().keys() == reference.state_dict().keys()

        x = torch.randn(32, 8, device=device, dtype=torch.float32)
        y, y_ref = converted(x), reference(x)
        assert_close(y, y_ref)
        y.square().sum().backward()
        y_ref.square().sum().backward()
        for (name, p), p_ref in zip(converted.named_parameters(), reference.parameters()):
            assert_close(p.grad, p_ref.grad, msg=name)

    def test_parameters_are_the_same_objects(self):
        model = classifier()
        prelu_weight = model[1].weight
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        TN.convert(model)
        assert model[1].weight is prelu_weight
        model(torch.randn(4, 8)).sum().backward()
        before = prelu_weight.detach().clone()
        optimizer.step()  # the optimizer built before convert() still updates the converted PReLU
        assert not torch.equal(prelu_weight.detach(), before)

    def test_training_mode_kept(self):
        model = classifier().train()
        model[4].eval()
        TN.convert(model)
        assert model[7].training and not model[4][1].training and not model[4][3].training

    def test_subclasses_and_other_modules_left_alone(self):
        class MyELU(nn.ELU):
            def forward(self, x):
                return super().forward(x) * 2

        model = nn.Sequential(MyELU(), nn.GELU(), nn.Hardtanh())
        TN.convert(model)
        assert [type(m) for m in model] == [MyELU, nn.GELU, nn.Hardtanh]

    def test_converted_model_loads_a_torch_state_dict(self):
        source = classifier()
        target = TN.convert(classifier())
        with torch.no_grad():
            source[1].weight.uniform_(-1, 1)
        target.load_state_dict(source.state_dict())
        assert torch.equal(target[1].weight, source[1].weight)


class TestRevert:
    @pytest.mark.parametrize("name", list(LAYERS))
    def test_each_layer_reverted_with_its_arguments(self, name):
        layer = LAYERS[name]().eval()
        ours = TN.convert(copy.deepcopy(layer))
        back = TN.revert(ours)
        assert type(back) is type(layer) and not back.training
        for arg in ARGS[name]:
            assert getattr(back, arg) == getattr(layer, arg), arg
        assert repr(back) == repr(layer)
        for p_back, p_ours in zip(back.parameters(), ours.parameters()):
            assert p_back is p_ours  # the same Parameter objects, as convert() keeps them

    def test_model_round_trip(self):
        model = classifier().eval()
        reference = copy.deepcopy(model)
        back = TN.revert(TN.convert(model))
        assert back is model
        assert not {type(m).__module__ for m in back.modules()} & {"torch_ext.nn.activation"}
        assert [type(m) for m in back.modules()] == [type(m) for m in reference.modules()]
        x = torch.randn(5, 8)
        torch.testing.assert_close(back(x), reference(x))
