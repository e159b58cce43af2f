"""Drop-in replacements for ``torch.nn`` activation modules and classification losses, and :func:`convert` to swap them into a model
(:func:`revert` swaps them back); and :class:`HierarchicalSoftmax`, which torch.nn has no twin of."""

from .activation import (CELU, ELU, SELU, Heaviside, LeakyReLU, LogSigmoid, LogSoftmax, PReLU, ReLU, RReLU, Sigmoid,
                         Sign, Softmax, Softmax2d, Softmin, Softplus, Tanh)
from .convert import convert, revert
from .hierarchical_softmax import HierarchicalSoftmax
from .loss import BCEWithLogitsLoss, CrossEntropyLoss

__all__ = [
    "ELU", "CELU", "SELU", "PReLU", "RReLU", "Softplus", "Softmax", "Softmin", "Softmax2d", "LogSoftmax", "Sigmoid",
    "Tanh", "LogSigmoid", "ReLU", "LeakyReLU", "Sign", "Heaviside", "BCEWithLogitsLoss", "CrossEntropyLoss", "convert",
    "revert", "HierarchicalSoftmax",
]
