"""Pure-PyTorch references for the ops torch has no twin of: the step units with a surrogate gradient
(torch_ext.functional.sign and heaviside), written as a user would, with an autograd.Function whose backward is
made of torch ops (so that it has a double backward too). The surrogate is evaluated in float64 and rounded to the
input's dtype: the reference is the float64 truth."""

import torch
from torch import Tensor, nn

from torch_ext.functional import STEP_GRADS, SWISH_SIGN_ARGUMENT_CAP

__all__ = ["STEP_GRADS", "step_surrogate", "step_surrogate_condition", "sign", "heaviside", "Sign", "Heaviside"]


def step_surrogate(x: Tensor, grad: str, beta: float) -> Tensor:
    """sign's surrogate derivative d(x) (differentiable, in x's dtype; NaN at a NaN x except for "identity")."""
    if grad == "identity":
        return torch.ones_like(x)
    a = x.abs()
    if grad == "clipped":
        d = torch.where(a <= 1, torch.ones_like(x), torch.zeros_like(x))
    elif grad == "approx_sign":
        d = torch.where(a <= 1, 2 - 2 * a, torch.zeros_like(x))
    elif grad == "swish_sign":
        # beta (2 - u tanh(u/2)) / (1 + cosh(u)) at u = beta |x|, written with h = exp(-u/2) (1 + cosh(u) =
        # (1 + h^2)^2 / (2 h^2)) so that neither it nor its derivative overflows (cosh does past u ~ 710, and
        # autograd then makes inf / inf); tests/test_step.py checks it against the cosh form.
        u = (beta * a).clamp_max(SWISH_SIGN_ARGUMENT_CAP)
        h = torch.exp(-u / 2)
        e = h * h
        d = 2 * beta * h * h * (2 - u * (1 - e) / (1 + e)) / ((1 + e) * (1 + e))
    else:
        raise ValueError(f"unknown grad {grad!r}")
    return torch.where(torch.isnan(x), x, d)


def step_surrogate_condition(x: Tensor, grad: str, beta: float) -> Tensor:
    """The surrogate's relative condition number in x, |x d'(x) / d(x)| (at least 1): how much a rounding of its
    intermediates (u = beta |x| first) is magnified. SwishSign's d = beta (2 - u t) (1 - t^2) / 2, t = tanh(u / 2),
    cancels near its zero (u t = 2, u ~ 2.4) and its exponential tail amplifies u's rounding u-fold."""
    if grad != "swish_sign":
        return torch.ones_like(x)
    u = (beta * x.double()).abs().clamp_max(SWISH_SIGN_ARGUMENT_CAP)
    t = torch.tanh(u / 2)
    f = 2 - u * t
    df = -t - u / 2 * (1 - t * t)
    return 1 + u * t + (u * df / f).abs()


class _Step(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, low, high, grad, beta):
        ctx.save_for_backward(x)
        ctx.params = (high - low) / 2, grad, beta
        out = torch.where(x < 0, torch.full_like(x, low), torch.full_like(x, high))
        return torch.where(torch.isnan(x), x, out)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        scale, grad, beta = ctx.params
        d = step_surrogate(x.double(), grad, beta).to(x.dtype)
        return g * (scale * d), None, None, None, None


def sign(input: Tensor, grad: str = "identity", beta: float = 5.0) -> Tensor:
    return _Step.apply(input, -1.0, 1.0, grad, beta)


def heaviside(input: Tensor, grad: str = "identity", beta: float = 5.0) -> Tensor:
    return _Step.apply(input, 0.0, 1.0, grad, beta)


class _StepUnit(nn.Module):
    __constants__ = ["grad", "beta"]

    def __init__(self, grad: str = "identity", beta: float = 5.0) -> None:
        super().__init__()
        self.grad = grad
        self.beta = beta

    def extra_repr(self) -> str:
        return f"grad={self.grad!r}, beta={self.beta}"


class Sign(_StepUnit):
    r"""The reference of torch_ext.nn.Sign.

    Examples::

        >>> m = Sign()
    """

    def forward(self, input: Tensor) -> Tensor:
        return sign(input, self.grad, self.beta)


class Heaviside(_StepUnit):
    r"""The reference of torch_ext.nn.Heaviside.

    Examples::

        >>> m = Heaviside()
    """

    def forward(self, input: Tensor) -> Tensor:
        return heaviside(input, self.grad, self.beta)
