"""Drop-in replacements for ``torch.nn`` activation modules."""

from .activation import CELU, ELU, SELU

__all__ = ["ELU", "CELU", "SELU"]
