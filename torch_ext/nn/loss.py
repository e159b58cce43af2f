"""Drop-in replacements for ``torch.nn``'s classification losses over torch_ext's fused ops."""

from typing import Optional

from torch import Tensor
from torch.nn.modules.loss import _Loss, _WeightedLoss

from .. import functional as F

__all__ = ["BCEWithLogitsLoss", "CrossEntropyLoss"]


class BCEWithLogitsLoss(_Loss):
    r"""This loss combines a `Sigmoid` layer and the `BCELoss` in one single class, as
    :class:`torch.nn.BCEWithLogitsLoss` (same arguments, buffers ``weight`` and ``pos_weight``, state_dict keys),
    computed by one fused kernel per pass (:func:`torch_ext.functional.binary_cross_entropy_with_logits`).

    .. math::
        \ell_n = - w_n \left[ p\, y_n \cdot \log \sigma(x_n) + (1 - y_n) \cdot \log (1 - \sigma(x_n)) \right]

    Args:
        weight (Tensor, optional): a manual rescaling weight, broadcast to the input's shape.
        size_average, reduce: deprecated (see :attr:`reduction`).
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``
        pos_weight (Tensor, optional): a weight of positive examples, broadcast to the input's shape.

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Target: :math:`(*)`, same shape as the input.
        - Output: scalar. If :attr:`reduction` is ``'none'``, then :math:`(*)`, same shape as input.

    Examples::

        >>> loss = torch_ext.nn.BCEWithLogitsLoss()
        >>> input = torch.randn(3, requires_grad=True)
        >>> target = torch.empty(3).random_(2)
        >>> output = loss(input, target)
        >>> output.backward()
    """

    def __init__(
        self,
        weight: Optional[Tensor] = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        pos_weight: Optional[Tensor] = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)
        self.weight: Optional[Tensor]
        self.pos_weight: Optional[Tensor]

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight, pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    r"""The cross-entropy loss between input logits and target, as :class:`torch.nn.CrossEntropyLoss` (same
    arguments, buffer ``weight``, constants, repr and state_dict keys), computed by torch_ext's fused op
    (:func:`torch_ext.functional.cross_entropy`): one pass for the loss that keeps one log-sum-exp per row, one
    for the gradient.

    Args:
        weight (Tensor, optional): a manual rescaling weight per class, of size `C`.
        size_average, reduce: deprecated (see :attr:`reduction`).
        ignore_index (int, optional): a class-index target that is ignored (no loss, no gradient, not counted in
            the mean). Default: -100
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``
        label_smoothing (float, optional): in [0.0, 1.0], the amount of smoothing. Default: 0.0
        lse_square_scale (float, optional): the z-loss scale (each row's loss gains
            ``lse_square_scale * logsumexp(input)**2``); not in torch.nn. Default: 0.0

    Shape:
        - Input: :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`.
        - Target: class indices, :math:`()`, :math:`(N)` or :math:`(N, d_1, ..., d_K)`, int64 in :math:`[0, C)`;
          or class probabilities of the input's shape and dtype.
        - Output: scalar; :math:`()`, :math:`(N)` or :math:`(N, d_1, ..., d_K)` for ``reduction='none'``.

    Examples::

        >>> loss = torch_ext.nn.CrossEntropyLoss()
        >>> input = torch.randn(3, 5, requires_grad=True)
        >>> target = torch.empty(3, dtype=torch.long).random_(5)
        >>> output = loss(input, target)
        >>> output.backward()
    """

    __constants__ = ["ignore_index", "reduction", "label_smoothing"]
    ignore_index: int
    label_smoothing: float

    def __init__(
        self,
        weight: Optional[Tensor] = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
        lse_square_scale: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.lse_square_scale = lse_square_scale

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing,
                               lse_square_scale=self.lse_square_scale)
