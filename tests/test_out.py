"""out= overloads (``elu.out``, ``softmax_backward.grad_input``, ...), over one table of calls (CASES): each writes
what its functional op returns, with ATen's out= rules -- the result's dtype and device, no out whose elements share
memory, no partial overlap with an input or another out (out=input is allowed), resizing as at::native::resize_output
does, and autograd and forward-mode AD refused as ATen's out= functions refuse them."""

from dataclasses import dataclass
from typing import Callable

import pytest
import torch
import torch.autograd.forward_ad as fwAD

from common_utils import DEVICES, FLOAT_DTYPES, assert_bitwise_equal, normal_values
from torch_ext import hsoftmax_tree
from torch_ext.testing import hsoftmax_db

ops = torch.ops.torch_ext
SHAPE = (4, 3, 5)


@dataclass
class Case:
    """`overload` called with args(x, g) and its out tensors as keywords."""

    id: str
    overload: torch._ops.OpOverload
    args: Callable


def _weight(x):
    return torch.tensor([0.25, -0.5, 0.125], dtype=x.dtype, device=x.device)


def _class_weight(x):
    # One per element of the last dim (5 in every shape the tests use).
    return torch.linspace(0.25, 2.0, x.shape[-1], dtype=x.dtype, device=x.device)


def _target(x):
    return torch.sigmoid(x * 0.3)


def _class_indices(x):
    # Class indices for an input [N, C, d...]: shape [N, d...], every class and ignore_index=1 among them.
    shape = (x.shape[0],) + tuple(x.shape[2:])
    return (torch.arange(x.numel() // x.shape[1], device=x.device) % x.shape[1]).reshape(shape)


def _cross_entropy_backward_args(x, g, reduction):
    # The forward op's lse and total weight (of x's values: the forward op is not differentiable), and a gradient of
    # the loss's shape.
    t, w = _class_indices(x), _weight(x).abs()
    _, lse, total_weight = ops.cross_entropy_forward(x.detach(), t, w, reduction, 1, 0.1, 1e-3)
    grad = g[:, 0] if reduction == 0 else g.sum()
    return (grad, x, t, w, reduction, 1, 0.1, 1e-3, lse, total_weight)


def _hsoftmax_sample(x):
    # input [N, D] (a view of x, N = x.shape[0]), 5 classes over a balanced tree, an ignored row among the targets.
    inp = x.flatten(1)
    d, opts = inp.shape[1], dict(dtype=x.dtype, device=x.device)
    return hsoftmax_db.HsoftmaxSample(inp, torch.linspace(-1.0, 1.0, 4 * d, **opts).view(4, d),
                                      torch.linspace(-0.5, 0.5, 4, **opts), hsoftmax_tree.balanced(5),
                                      torch.tensor([3, -100, 0, 4][: x.shape[0]], device=x.device))


def _generator(x):
    # A fresh generator per call: the functional op and its out= form draw the same slopes.
    return torch.Generator(x.device).manual_seed(7)


CASES = [
    Case("elu", ops.elu.out, lambda x, g: (x, 0.7, 1.0, 1.0)),
    Case("elu_backward", ops.elu_backward.grad_input, lambda x, g: (g, 0.7, 1.0, 1.0, False, x)),
    Case("elu_backward_is_result", ops.elu_backward.grad_input, lambda x, g: (g, 0.7, 1.0, 1.0, True, ops.elu(x, 0.7))),
    Case("celu", ops.celu.out, lambda x, g: (x, 2.0)),
    Case("selu", ops.selu.out, lambda x, g: (x,)),
    Case("prelu", ops.prelu.out, lambda x, g: (x, _weight(x))),
    Case("prelu_backward", ops.prelu_backward.out, lambda x, g: (g, x, _weight(x))),
    Case("rrelu_eval", ops.rrelu.out, lambda x, g: (x, 0.1, 0.3, False)),
    Case("rrelu_train", ops.rrelu.out, lambda x, g: (x, 0.1, 0.3, True, _generator(x))),
    Case("rrelu_with_noise", ops.rrelu_with_noise.out, lambda x, g: (x, 0.1, 0.3, True, _generator(x))),
    Case("rrelu_backward", ops.rrelu_backward.grad_input, lambda x, g: (g, x, None, 0.1, 0.3, False, False)),
    Case("softplus", ops.softplus.out, lambda x, g: (x, 2.0, 5.0)),
    Case("softplus_backward", ops.softplus_backward.grad_input, lambda x, g: (g, x, 2.0, 5.0)),
    Case("softmax", ops.softmax.out, lambda x, g: (x, 1, None)),
    Case("softmax_dtype", ops.softmax.out, lambda x, g: (x, 1, torch.float64)),
    Case("log_softmax", ops.log_softmax.out, lambda x, g: (x, -1, None)),
    Case("softmax_backward", ops.softmax_backward.grad_input, lambda x, g: (g, ops.softmax(x, 1), 1, x.dtype)),
    Case("log_softmax_backward", ops.log_softmax_backward.grad_input,
         lambda x, g: (g, ops.log_softmax(x, 1), 1, x.dtype)),
    Case("leaky_relu", ops.leaky_relu.out, lambda x, g: (x, 0.2)),
    Case("leaky_relu_backward", ops.leaky_relu_backward.grad_input, lambda x, g: (g, x, 0.2, False)),
    Case("logsigmoid", ops.logsigmoid.out, lambda x, g: (x,)),
    Case("logsigmoid_backward", ops.logsigmoid_backward.grad_input, lambda x, g: (g, x)),
    Case("binary_cross_entropy_with_logits", ops.binary_cross_entropy_with_logits.out,
         lambda x, g: (x, _target(x), None, -_class_weight(x), 0)),
    Case("binary_cross_entropy_with_logits_mean", ops.binary_cross_entropy_with_logits.out,
         lambda x, g: (x, _target(x), _class_weight(x), None, 1)),
    Case("binary_cross_entropy_with_logits_backward", ops.binary_cross_entropy_with_logits_backward.grad_input,
         lambda x, g: (g, x, _target(x), None, _class_weight(x), 0)),
    Case("binary_cross_entropy_with_logits_target_backward",
         ops.binary_cross_entropy_with_logits_target_backward.grad_input,
         lambda x, g: (g, x, _target(x), -_class_weight(x), None, 0)),
    Case("cross_entropy", ops.cross_entropy.out, lambda x, g: (x, _class_indices(x), None, 0, -100, 0.0, 0.0)),
    Case("cross_entropy_mean", ops.cross_entropy.out,
         lambda x, g: (x, _class_indices(x), _weight(x).abs(), 1, 1, 0.1, 1e-3)),
    Case("cross_entropy_probabilities", ops.cross_entropy.out,
         lambda x, g: (x, torch.softmax(g, 1), None, 2, -100, 0.0, 0.0)),
    Case("cross_entropy_forward", ops.cross_entropy_forward.out,
         lambda x, g: (x, _class_indices(x), _weight(x).abs(), 1, 1, 0.1, 1e-3)),
    Case("cross_entropy_backward", ops.cross_entropy_backward.grad_input,
         lambda x, g: _cross_entropy_backward_args(x, g, 0)),
    Case("cross_entropy_backward_mean", ops.cross_entropy_backward.grad_input,
         lambda x, g: _cross_entropy_backward_args(x, g, 1)),
    Case("hsoftmax_nll", ops.hsoftmax_nll.out, lambda x, g: _hsoftmax_sample(x).nll_args()),
    Case("hsoftmax_nll_forward", ops.hsoftmax_nll_forward.out, lambda x, g: _hsoftmax_sample(x).nll_args()),
    Case("hsoftmax_nll_backward", ops.hsoftmax_nll_backward.grad_input,
         lambda x, g: _hsoftmax_sample(x).backward_args(g.flatten(1)[:, 1])),
    Case("hsoftmax_log_prob", ops.hsoftmax_log_prob.out, lambda x, g: _hsoftmax_sample(x).log_prob_args()),
] + [
    case
    for name in ("sign", "heaviside")
    for case in (Case(name, getattr(ops, name).out, lambda x, g: (x, "swish_sign", 2.0)),
                 Case(name + "_backward", getattr(ops, name + "_backward").grad_input,
                      lambda x, g: (g, x, "swish_sign", 2.0)))
] + [
    case
    for name in ("sigmoid", "tanh", "relu")
    for case in (Case(name, getattr(ops, name).out, lambda x, g: (x,)),
                 Case(name + "_backward", getattr(ops, name + "_backward").grad_input,
                      lambda x, g, name=name: (g, getattr(ops, name)(x))))
]
CASE_PARAMS = [pytest.param(c, id=c.id) for c in CASES]


def out_names(overload) -> list:
    return [a.name for a in overload._schema.arguments if a.is_out]


def message_name(overload) -> str:
    """The name an error message gives the overload: elu.out."""
    return f"{overload._schema.name.split('::')[1]}.{overload._overloadname}"


def functional(overload):
    return getattr(ops, overload._schema.name.split("::")[1]).default


def inputs(device, dtype=torch.float32):
    x = normal_values(SHAPE, seed=0).to(device=device, dtype=dtype)
    g = normal_values(SHAPE, seed=1).to(device=device, dtype=dtype)
    return x, g


def expected(case, x, g) -> list:
    r = functional(case.overload)(*case.args(x, g))
    return list(r) if isinstance(r, tuple) else [r]


def call(case, x, g, outs):
    return case.overload(*case.args(x, g), **dict(zip(out_names(case.overload), outs)))


def assert_refused(case, x, g, outs, match):
    snapshot = [(o._version, o.detach().clone() if o.device.type != "meta" else None) for o in outs]
    with pytest.raises(RuntimeError, match=match):
        call(case, x, g, outs)
    for o, (version, data) in zip(outs, snapshot):
        assert o._version == version, "a refused call wrote an out"
        if data is not None:
            assert torch.equal(o, data), "a refused call wrote an out"


def test_every_functional_op_has_an_out_overload():
    """A new op without an out= overload, or without a row here, fails."""
    schemas = [s for s in torch._C._jit_get_all_schemas() if s.name.startswith("torch_ext::")]
    functional_ops = {s.name.split("::")[1] for s in schemas if s.overload_name == "" and not s.is_mutable}
    with_out = {s.name.split("::")[1] for s in schemas if s.overload_name in ("out", "grad_input")}
    assert functional_ops == with_out, functional_ops ^ with_out
    assert {c.overload._schema.name.split("::")[1] for c in CASES} == functional_ops


def test_out_refuses_outs_that_overlap_each_other():
    x, g = inputs("cpu")
    buf = torch.empty(2 * x.numel())
    with pytest.raises(RuntimeError, match=r"^prelu_backward.out: grad_weight overlaps grad_self"):
        ops.prelu_backward.out(g, x, _weight(x), grad_self=buf[: x.numel()].view_as(x), grad_weight=buf[:3])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASE_PARAMS)
class TestOutOverload:
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    def test_out_writes_the_functional_result(self, case, device, dtype):
        x, g = inputs(device, dtype)
        want = expected(case, x, g)
        outs = [torch.full_like(w, float("nan")) for w in want]
        assert call(case, x, g, outs) is None
        for o, w in zip(outs, want):
            assert_bitwise_equal(o, w)
            assert o._version == 1

    def test_out_is_resized(self, case, device):
        # An empty out takes the result's shape and strides (channels_last stays so where the op keeps it); a non-empty
        # out of another shape is resized too, with resize_output's deprecation warning.
        x, g = inputs(device)
        x4, g4 = x.reshape(2, 3, 2, 5).contiguous(memory_format=torch.channels_last), g.reshape(2, 3, 2, 5)
        want = expected(case, x4, g4)
        empty = [torch.empty(0, dtype=w.dtype, device=device) for w in want]
        call(case, x4, g4, empty)
        for o, w in zip(empty, want):
            assert o.shape == w.shape and o.stride() == w.stride()
            assert_bitwise_equal(o, w)
        wrong = [torch.zeros(7, dtype=w.dtype, device=device) for w in want]
        call(case, x4, g4, wrong)
        for o, w in zip(wrong, want):
            assert_bitwise_equal(o, w)

    def test_out_may_be_an_input(self, case, device):
        # A full overlap (out is an input of the same shape and dtype) is allowed, as in ATen.
        x, g = inputs(device)
        want = expected(case, x, g)
        args = case.args(x, g)
        first = next(a for a in args if isinstance(a, torch.Tensor))
        if first.shape != want[0].shape or first.dtype != want[0].dtype:
            pytest.skip("no input of the result's shape and dtype")
        if len(want) > 1:
            outs = [first] + [torch.empty_like(w) for w in want[1:]]
        else:
            outs = [first]
        case.overload(*args, **dict(zip(out_names(case.overload), outs)))
        assert_bitwise_equal(first, want[0])

    def test_out_refusals(self, case, device):
        x, g = inputs(device)
        want = expected(case, x, g)
        name = message_name(case.overload)
        first = out_names(case.overload)[0]

        def outs_with(bad):
            return [bad] + [torch.zeros_like(w) for w in want[1:]]

        w = want[0]
        other_dtype = torch.float16 if w.dtype != torch.float16 else torch.float32
        assert_refused(case, x, g, outs_with(torch.zeros_like(w, dtype=other_dtype)),
                       rf"^{name}: expected {first} to have the dtype of the result \(\w+\), got \w+$")
        assert_refused(case, x, g, outs_with(torch.empty_like(w, device="meta")),
                       rf"^{name}: expected {first} to be on the device of the result \({w.device.type}")
        if w.numel() > 1:  # (a reduced loss's one element cannot share memory with another)
            expanded = torch.zeros(1, dtype=w.dtype, device=device).expand(w.shape)
            assert_refused(case, x, g, outs_with(expanded), rf"^{name}: {first} has elements that share memory")
        # Partial overlap: out is the first tensor input of several elements shifted by one in the same storage.
        args = case.args(x, g)
        k = next(i for i, a in enumerate(args) if isinstance(a, torch.Tensor) and a.numel() > 1)
        base = torch.zeros(args[k].numel() + w.numel() + 1, dtype=w.dtype, device=device)
        if w.dtype == args[k].dtype:
            src = base[: args[k].numel()].view_as(args[k]).copy_(args[k])
            shifted = base[1 : 1 + w.numel()].view(w.shape)
            outs = outs_with(shifted)
            with pytest.raises(RuntimeError, match=rf"^{name}: {first} partly overlaps an input"):
                case.overload(*args[:k], src, *args[k + 1 :], **dict(zip(out_names(case.overload), outs)))

    def test_out_refuses_autograd(self, case, device):
        x, g = inputs(device)
        want = expected(case, x, g)
        name = message_name(case.overload)
        outs = [torch.empty_like(w) for w in want]
        xr = x.clone().requires_grad_()
        with pytest.raises(RuntimeError, match=rf"^{name}: functions with out=... arguments don't support automatic "
                                               r"differentiation, but \w+ requires grad"):
            call(case, xr, g, outs)
        with torch.no_grad():
            call(case, xr, g, outs)
        assert_bitwise_equal(outs[0], want[0])
        with fwAD.dual_level():
            dual = fwAD.make_dual(x, torch.ones_like(x))
            with pytest.raises(RuntimeError, match=rf"^{name}: functions with out=... arguments don't support "
                                                   r"forward-mode AD, but \w+ carries a tangent"):
                call(case, dual, g, outs)

    def test_out_opcheck(self, case, device):
        x, g = inputs(device)
        want = expected(case, x, g)
        outs = [torch.empty_like(w) for w in want]
        # AOTAutograd refuses Generator inputs; without one, opcheck seeds the default generator for each run.
        args = tuple(a for a in case.args(x, g) if not isinstance(a, torch.Generator))
        torch.library.opcheck(case.overload, args, dict(zip(out_names(case.overload), outs)))
