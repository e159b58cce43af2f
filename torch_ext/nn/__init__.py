"""Drop-in replacements for ``torch.nn`` activation modules, and :func:`convert` to swap them into a model
(:func:`revert` swaps them back)."""

from .activation import CELU, ELU, SELU, LogSoftmax, PReLU, RReLU, Softmax, Softplus
from .convert import convert, revert

__all__ = ["ELU", "CELU", "SELU", "PReLU", "RReLU", "Softplus", "Softmax", "LogSoftmax", "convert", "revert"]
