"""Functional interface: the signatures and defaults of ``torch.nn.functional``, over ``torch.ops.torch_ext``."""

from torch import Tensor
import torch

__all__ = ["elu", "celu", "selu", "prelu", "rrelu", "softplus"]


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r"""Applies the Exponential Linear Unit element-wise. See :class:`torch_ext.nn.ELU`."""
    if inplace:
        torch.ops.torch_ext.elu_(input, alpha)
        return input
    return torch.ops.torch_ext.elu(input, alpha)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    r"""Applies CELU, :math:`\max(0,x) + \min(0, \alpha (\exp(x/\alpha) - 1))`. See :class:`torch_ext.nn.CELU`."""
    if inplace:
        torch.ops.torch_ext.celu_(input, alpha)
        return input
    return torch.ops.torch_ext.celu(input, alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    r"""Applies SELU element-wise. See :class:`torch_ext.nn.SELU`."""
    if inplace:
        torch.ops.torch_ext.selu_(input)
        return input
    return torch.ops.torch_ext.selu(input)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    r"""Applies PReLU, :math:`\max(0,x) + \text{weight} * \min(0,x)`, with one weight or one per channel (dim 1).
    See :class:`torch_ext.nn.PReLU`."""
    return torch.ops.torch_ext.prelu(input, weight)


def rrelu(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace: bool = False
) -> Tensor:
    r"""Applies the randomized leaky ReLU. See :class:`torch_ext.nn.RReLU`.

    As in ``torch.nn.functional``, the default is eval mode (``training=False``): slope (lower + upper) / 2.
    """
    if inplace:
        torch.ops.torch_ext.rrelu_(input, lower, upper, training)
        return input
    return torch.ops.torch_ext.rrelu(input, lower, upper, training)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    r"""Applies :math:`\frac{1}{\beta} \log(1 + \exp(\beta x))`, linear where :math:`\beta x > \text{threshold}`.
    See :class:`torch_ext.nn.Softplus`."""
    return torch.ops.torch_ext.softplus(input, beta, threshold)
