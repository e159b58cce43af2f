"""Drop-in replacements for ``torch.nn`` activation modules."""

from .activation import CELU, ELU, SELU, LogSoftmax, PReLU, RReLU, Softmax, Softplus

__all__ = ["ELU", "CELU", "SELU", "PReLU", "RReLU", "Softplus", "Softmax", "LogSoftmax"]
