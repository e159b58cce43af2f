"""Drop-in replacements for ``torch.nn``'s classification losses over torch_ext's fused ops."""

from typing import Optional

from torch import Tensor
from torch.nn.modules.loss import _Loss

from .. import functional as F

__all__ = ["BCEWithLogitsLoss"]


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
