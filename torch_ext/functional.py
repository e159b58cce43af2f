"""Functional interface: the signatures and defaults of ``torch.nn.functional``, over ``torch.ops.torch_ext``."""

from torch import Tensor
import torch

__all__ = ["elu", "celu", "selu"]


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
