"""What is particular to the step units, sign and heaviside (the generic checks against the reference are
tests/test_op_db.py's, from their rows): the forward's convention at 0, the surrogate gradients against their closed
forms and against the derivatives of their antiderivatives, the double backward and forward AD by numerical
gradients, and the argument errors."""

import math

import pytest
import torch
from torch.autograd import gradcheck

import torch_ext
import torch_ext.functional as TF
from torch_ext.testing.reference import STEP_GRADS
from common_utils import DEVICES, FLOAT_DTYPES, normal_values

ops = torch.ops.torch_ext
STEPS = {"sign": (-1.0, 1.0), "heaviside": (0.0, 1.0)}


def _closed_form(grad: str, beta: float, x: float) -> float:
    """sign's surrogate derivative, as the docs write it (per element, in Python floats)."""
    if math.isnan(x):
        return 1.0 if grad == "identity" else math.nan
    if grad == "identity":
        return 1.0
    if grad == "clipped":
        return 1.0 if abs(x) <= 1 else 0.0
    if grad == "approx_sign":
        return 2 - 2 * abs(x) if abs(x) <= 1 else 0.0
    u = beta * x
    if abs(u) > 700:  # cosh overflows; the value is 0 to double precision long before
        return 0.0
    return beta * (2 - u * math.tanh(u / 2)) / (1 + math.cosh(u))


def _antiderivative(grad: str, beta: float, x: torch.Tensor) -> torch.Tensor:
    """A function whose derivative is the surrogate (the published ones: hardtanh, ApproxSign, SwishSign)."""
    if grad == "identity":
        return x
    if grad == "clipped":
        return x.clamp(-1, 1)
    if grad == "approx_sign":
        return torch.where(x.abs() <= 1, 2 * x - x * x.abs(), torch.sign(x))
    s = torch.sigmoid(beta * x)
    return 2 * s * (1 + beta * x * (1 - s)) - 1


def _points(dtype, device):
    # Off the kinks (0 and +-1), both signs, small and large, and the special values.
    v = [-30.0, -3.0, -1.5, -0.7, -0.3, -0.01, 0.02, 0.4, 0.9, 1.2, 2.5, 40.0, math.inf, -math.inf, math.nan]
    return torch.tensor(v, dtype=dtype, device=device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("name", STEPS)
def test_forward_convention(name, dtype, device):
    low, high = STEPS[name]
    tiny = torch.finfo(dtype).tiny  # the smallest normal: nonzero in every dtype
    x = torch.tensor([-math.inf, -2.5, -tiny, -0.0, 0.0, tiny, 3.0, math.inf, math.nan], dtype=dtype, device=device)
    y = getattr(TF, name)(x)
    expected = torch.tensor([low, low, low, high, high, high, high, high, math.nan], dtype=dtype, device=device)
    torch.testing.assert_close(y, expected, rtol=0, atol=0, equal_nan=True)
    # Where torch.sign gives 0 (at +-0, and at NaN, where ours propagates it) ours gives +1; elsewhere they agree.
    if name == "sign":
        nonzero = (x != 0) & ~torch.isnan(x)
        torch.testing.assert_close(y[nonzero], torch.sign(x)[nonzero], rtol=0, atol=0)
        assert torch.sign(x)[torch.isnan(x)].eq(0).all()
    else:
        torch.testing.assert_close(y, (TF.sign(x) + 1) / 2, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("beta", [5.0, 1.5])
@pytest.mark.parametrize("grad", STEP_GRADS)
@pytest.mark.parametrize("name", STEPS)
def test_surrogate_matches_closed_form(name, grad, beta, device):
    x = _points(torch.float64, device).requires_grad_()
    g = torch.linspace(-2, 3, x.numel(), dtype=torch.float64, device=device)
    (gx,) = torch.autograd.grad(getattr(TF, name)(x, grad, beta), x, g)
    scale = (STEPS[name][1] - STEPS[name][0]) / 2
    expected = torch.tensor([scale * gi * _closed_form(grad, beta, xi) for gi, xi in zip(g.tolist(), x.tolist())],
                            dtype=torch.float64, device=device)
    torch.testing.assert_close(gx, expected, rtol=1e-13, atol=1e-300, equal_nan=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("grad", STEP_GRADS)
def test_surrogate_is_the_derivative_of_its_antiderivative(grad, device):
    # Numerically, off the kinks: the surrogate is the derivative of the published function it comes from.
    x = torch.tensor([-3.0, -1.5, -0.7, -0.3, -0.01, 0.02, 0.4, 0.9, 1.2, 2.5], dtype=torch.float64, device=device)
    for beta in (5.0, 1.5):
        h = 1e-6
        numerical = (_antiderivative(grad, beta, x + h) - _antiderivative(grad, beta, x - h)) / (2 * h)
        ours = ops.sign_backward(torch.ones_like(x), x, grad, beta)
        torch.testing.assert_close(ours, numerical, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("grad", STEP_GRADS)
def test_heaviside_gradient_is_half_of_signs(grad, dtype, device):
    x = _points(dtype, device)
    g = torch.randn(x.shape, generator=torch.Generator().manual_seed(0)).to(dtype=dtype, device=device)
    half = ops.heaviside_backward(g, x, grad, 2.0)
    torch.testing.assert_close(half, ops.sign_backward(g, x, grad, 2.0) * 0.5, rtol=0, atol=0, equal_nan=True)


def _off_kinks(device):
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(3, 5, generator=gen, dtype=torch.float64) * 1.6 + 0.2  # in [0.2, 1.8] \ near 1
    x = torch.where((x - 1).abs() < 0.1, x + 0.3, x)
    sign = torch.where(torch.rand(3, 5, generator=gen) < 0.5, -1.0, 1.0).double()
    return (x * sign).to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("grad", STEP_GRADS)
@pytest.mark.parametrize("name", STEPS)
def test_backward_op_gradcheck(name, grad, device):
    # The backward op's derivatives (the forward's double backward, and their forward AD) by numerical gradients.
    # The forward itself cannot be gradchecked: its surrogate is not its derivative.
    backward = getattr(ops, name + "_backward")
    x = _off_kinks(device).requires_grad_()
    g = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2)).to(device)
    g.requires_grad_()
    for beta in (5.0, 1.5):
        assert gradcheck(lambda g, x: backward(g, x, grad, beta), (g, x), check_forward_ad=True,
                         check_backward_ad=True, check_batched_grad=False)
        f = lambda x: getattr(TF, name)(x, grad, beta)  # noqa: E731
        # The double backward through autograd (the backward op's Function), as a user's create_graph=True meets it.
        assert gradcheck(lambda x: torch.autograd.grad(f(x), x, g, create_graph=True)[0], (x,))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("grad", STEP_GRADS)
@pytest.mark.parametrize("name", STEPS)
def test_forward_ad_is_the_surrogate(name, grad, device):
    # Forward-mode AD carries a tangent t to backward(t, x): the same surrogate as reverse mode.
    x = _off_kinks(device)
    t = torch.randn(x.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3)).to(device)
    y, jvp = torch.func.jvp(lambda x: getattr(TF, name)(x, grad, 2.0), (x,), (t,))
    torch.testing.assert_close(y, getattr(TF, name)(x), rtol=0, atol=0)
    torch.testing.assert_close(jvp, getattr(ops, name + "_backward")(t, x, grad, 2.0), rtol=0, atol=0)


@pytest.mark.parametrize("name", STEPS)
def test_argument_errors(name):
    x = torch.randn(4)
    calls = [lambda **k: getattr(TF, name)(x, **k), lambda **k: getattr(ops, name)(x, **k),
             lambda **k: getattr(torch_ext.nn, name.capitalize())(**k)(x),
             lambda **k: getattr(ops, name + "_backward")(x, x, k.get("grad", "identity"), k.get("beta", 5.0))]
    for call in calls:
        with pytest.raises(RuntimeError, match=r"expected grad to be one of \"identity\", \"clipped\", "
                                               r"\"approx_sign\" or \"swish_sign\", got \"Identity\""):
            call(grad="Identity")
        for beta in (math.nan, math.inf, -math.inf, 0.0, -1.0):
            with pytest.raises(RuntimeError, match=r"expected beta to be a finite positive number, got"):
                call(beta=beta)


def test_module_repr():
    assert repr(torch_ext.nn.Sign()) == "Sign(grad='identity', beta=5.0)"
    assert repr(torch_ext.nn.Heaviside("swish_sign", 2.0)) == "Heaviside(grad='swish_sign', beta=2.0)"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", STEPS)
def test_vmap(name, device):
    # The ops are elementwise: vmapped over any dim they equal the unbatched call, exactly, the backward op's with
    # either argument batched (tests/test_autograd.py vmaps the forward against the reference's).
    x = normal_values((4, 3, 5), seed=4).to(device=device, dtype=torch.float64)
    g = normal_values((4, 3, 5), seed=5).to(device=device, dtype=torch.float64)
    forward, backward = getattr(ops, name), getattr(ops, name + "_backward")
    for in_dim in (0, 1, 2):
        torch.testing.assert_close(torch.vmap(lambda v: forward(v, "swish_sign", 2.0), in_dims=in_dim)(x),
                                   forward(x, "swish_sign", 2.0).movedim(in_dim, 0), rtol=0, atol=0)
        torch.testing.assert_close(
            torch.vmap(lambda a, b: backward(a, b, "swish_sign", 2.0), in_dims=(in_dim, in_dim))(g, x),
            backward(g, x, "swish_sign", 2.0).movedim(in_dim, 0), rtol=0, atol=0)
    # Only grad_output batched.
    torch.testing.assert_close(torch.vmap(lambda a, b: backward(a, b, "clipped", 2.0), in_dims=(0, None))(g, x[0]),
                               backward(g, x[0].expand_as(g), "clipped", 2.0), rtol=0, atol=0)
