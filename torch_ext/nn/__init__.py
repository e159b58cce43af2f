"""Drop-in replacements for ``torch.nn`` activation modules."""

from .activation import CELU, ELU, SELU, PReLU, RReLU, Softplus

__all__ = ["ELU", "CELU", "SELU", "PReLU", "RReLU", "Softplus"]
