"""Swap torch.nn's activation layers in an existing model for torch_ext's, and back."""

from typing import Callable, Dict, Type

import torch
from torch.nn import Module

from . import activation as A
from . import loss as L

__all__ = ["convert", "revert"]


def _prelu(m: torch.nn.PReLU) -> A.PReLU:
    # Built on the meta device, then handed the original Parameter: optimizers and anything else that
    # holds it keep working, and no memory is allocated twice.
    new = A.PReLU(m.num_parameters, m.init, device="meta", dtype=m.weight.dtype)
    new.weight = m.weight
    return new


def _bce_with_logits(m: Module, cls: type) -> Module:
    # The same buffers (weight, pos_weight): the state_dict keys and tensors do not change.
    new = cls(reduction=m.reduction)
    new.weight = m.weight
    new.pos_weight = m.pos_weight
    return new


def _cross_entropy(m: Module, cls: type) -> Module:
    # The same weight buffer and constants.
    new = cls(ignore_index=m.ignore_index, reduction=m.reduction, label_smoothing=m.label_smoothing)
    new.weight = m.weight
    return new


def _converters() -> Dict[Type[Module], Callable[[Module], Module]]:
    return {
        torch.nn.ELU: lambda m: A.ELU(m.alpha, m.inplace),
        torch.nn.CELU: lambda m: A.CELU(m.alpha, m.inplace),
        torch.nn.SELU: lambda m: A.SELU(m.inplace),
        torch.nn.PReLU: _prelu,
        torch.nn.RReLU: lambda m: A.RReLU(m.lower, m.upper, m.inplace),
        torch.nn.Softplus: lambda m: A.Softplus(m.beta, m.threshold),
        torch.nn.Softmax: lambda m: A.Softmax(m.dim),
        torch.nn.Softmin: lambda m: A.Softmin(m.dim),
        torch.nn.Softmax2d: lambda m: A.Softmax2d(),
        torch.nn.LogSoftmax: lambda m: A.LogSoftmax(m.dim),
        torch.nn.Sigmoid: lambda m: A.Sigmoid(),
        torch.nn.Tanh: lambda m: A.Tanh(),
        torch.nn.LogSigmoid: lambda m: A.LogSigmoid(),
        torch.nn.ReLU: lambda m: A.ReLU(m.inplace),
        torch.nn.LeakyReLU: lambda m: A.LeakyReLU(m.negative_slope, m.inplace),
        torch.nn.BCEWithLogitsLoss: lambda m: _bce_with_logits(m, L.BCEWithLogitsLoss),
        torch.nn.CrossEntropyLoss: lambda m: _cross_entropy(m, L.CrossEntropyLoss),
    }


def convert(module: Module) -> Module:
    r"""Replace every ``torch.nn`` PReLU, RReLU, ELU, CELU, SELU, Softplus, Softmax, Softmin, Softmax2d, LogSoftmax,
    Sigmoid, Tanh, LogSigmoid, ReLU, LeakyReLU, BCEWithLogitsLoss and CrossEntropyLoss in :attr:`module` with the ``torch_ext.nn``
    layer of the same arguments.

    Parameters are kept (the same :class:`~torch.nn.Parameter` objects, so an optimizer built before the
    call still updates them), as are the layers' flags and training mode; the state_dict keys do not
    change. Hooks registered on a replaced layer are not carried over. Only these exact classes are replaced: a subclass may override
    ``forward``, so it is left alone. Like :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm`, children
    are replaced in place and the (possibly new) root is returned.

    Args:
        module (nn.Module): the model (or a single layer) to convert

    Returns:
        The converted module: :attr:`module` itself unless it is one of the replaced layers.

    Example::

        >>> model = nn.Sequential(nn.Linear(8, 8), nn.PReLU(), nn.Linear(8, 2), nn.LogSoftmax(dim=1))
        >>> model = torch_ext.nn.convert(model)
        >>> type(model[1])
        <class 'torch_ext.nn.activation.PReLU'>
    """
    converters = _converters()
    make = converters.get(type(module))
    if make is not None:
        new = make(module)
        return new.train(module.training)
    for name, child in module.named_children():
        converted = convert(child)
        if converted is not child:
            setattr(module, name, converted)
    return module


def _ours(cls: Type[Module]) -> Type[Module]:
    return getattr(A, cls.__name__, None) or getattr(L, cls.__name__)


def _to_torch(m: Module) -> Module:
    cls = getattr(torch.nn, type(m).__name__)
    if isinstance(m, L.BCEWithLogitsLoss):
        return _bce_with_logits(m, cls)
    if isinstance(m, L.CrossEntropyLoss):
        if m.lse_square_scale != 0.0:
            raise ValueError(f"revert: torch.nn.CrossEntropyLoss has no z-loss; this layer has lse_square_scale="
                             f"{m.lse_square_scale}")
        return _cross_entropy(m, cls)
    if isinstance(m, A.PReLU):
        new = torch.nn.PReLU(m.num_parameters, m.init, device="meta", dtype=m.weight.dtype)
        new.weight = m.weight
        return new
    return cls(**{name: getattr(m, name) for name in getattr(cls, "__constants__", ())})


def revert(module: Module) -> Module:
    r"""The inverse of :func:`convert`: replace every ``torch_ext.nn`` layer in :attr:`module` with the
    ``torch.nn`` layer of the same name and arguments, keeping parameters (the same
    :class:`~torch.nn.Parameter` objects), flags and training mode, in place as :func:`convert` does.
    For a program that must run without torch_ext, or a side-by-side comparison with torch.nn."""
    ours = {_ours(cls) for cls in _converters()}
    if type(module) in ours:
        return _to_torch(module).train(module.training)
    for name, child in module.named_children():
        reverted = revert(child)
        if reverted is not child:
            setattr(module, name, reverted)
    return module
