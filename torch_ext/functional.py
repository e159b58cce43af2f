"""Functional interface: the signatures and defaults of ``torch.nn.functional``, over ``torch.ops.torch_ext``."""

import warnings
from typing import Optional

from torch import Tensor
import torch
from torch.nn import _reduction

__all__ = [
    "elu", "celu", "selu", "prelu", "rrelu", "softplus", "softmax", "softmin", "log_softmax", "sigmoid", "tanh",
    "relu", "leaky_relu", "logsigmoid", "sign", "heaviside", "binary_cross_entropy_with_logits",
    "cross_entropy",
]


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


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    # torch.nn.functional's legacy choice when dim is not given (and its deprecation warning).
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=stacklevel,
    )
    if ndim == 0 or ndim == 1 or ndim == 3:
        return 0
    return 1


def softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3, dtype: Optional[torch.dtype] = None) -> Tensor:
    r"""Applies softmax, :math:`\text{Softmax}(x_{i}) = \frac{\exp(x_i)}{\sum_j \exp(x_j)}`, over every slice along
    ``dim``. ``dtype``, if given, is the output's dtype: the input is cast to it first (a half or bfloat16 input with
    ``dtype=torch.float32`` is read as is). See :class:`torch_ext.nn.Softmax`."""
    if dim is None:
        dim = _get_softmax_dim("softmax", input.dim(), _stacklevel)
    return torch.ops.torch_ext.softmax(input, dim, dtype)


def softmin(
    input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3, dtype: Optional[torch.dtype] = None
) -> Tensor:
    r"""Applies softmin, :math:`\text{Softmin}(x_{i}) = \frac{\exp(-x_i)}{\sum_j \exp(-x_j)}`, over every slice along
    ``dim``: :func:`softmax` of ``-input`` (negated in the input's dtype, then cast to ``dtype`` if given, as
    :func:`torch.nn.functional.softmin`). See :class:`torch_ext.nn.Softmin`."""
    if dim is None:
        dim = _get_softmax_dim("softmin", input.dim(), _stacklevel)
    return torch.ops.torch_ext.softmax(-input, dim, dtype)


def log_softmax(
    input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3, dtype: Optional[torch.dtype] = None
) -> Tensor:
    r"""Applies :math:`\log(\text{Softmax}(x))` over every slice along ``dim``, computed as
    :math:`(x_i - \max_j x_j) - \log \sum_j \exp(x_j - \max_j x_j)`. ``dtype`` as in :func:`softmax`.
    See :class:`torch_ext.nn.LogSoftmax`."""
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.dim(), _stacklevel)
    return torch.ops.torch_ext.log_softmax(input, dim, dtype)


def sigmoid(input: Tensor) -> Tensor:
    r"""Applies :math:`\sigma(x) = 1 / (1 + \exp(-x))` element-wise; an integer or bool input gives a result of the
    default float dtype, as :func:`torch.sigmoid`. See :class:`torch_ext.nn.Sigmoid`."""
    return torch.ops.torch_ext.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    r"""Applies :math:`\tanh(x)` element-wise; an integer or bool input gives a result of the default float dtype,
    as :func:`torch.tanh`. See :class:`torch_ext.nn.Tanh`."""
    return torch.ops.torch_ext.tanh(input)


def logsigmoid(input: Tensor) -> Tensor:
    r"""Applies :math:`\log(1 / (1 + \exp(-x)))` element-wise, as :func:`torch.nn.functional.logsigmoid` (floating
    inputs only). See :class:`torch_ext.nn.LogSigmoid`."""
    return torch.ops.torch_ext.logsigmoid(input)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    r"""Applies :math:`\max(x, 0)` element-wise (NaN kept); an integer input keeps its dtype, as
    :func:`torch.relu`. See :class:`torch_ext.nn.ReLU`."""
    if inplace:
        torch.ops.torch_ext.relu_(input)
        return input
    return torch.ops.torch_ext.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    r"""Applies :math:`x` where :math:`x > 0`, else :math:`\text{negative\_slope} \cdot x`, element-wise.
    See :class:`torch_ext.nn.LeakyReLU`."""
    if inplace:
        torch.ops.torch_ext.leaky_relu_(input, negative_slope)
        return input
    return torch.ops.torch_ext.leaky_relu(input, negative_slope)


# sign's and heaviside's surrogate gradients (their grad argument), in the order of csrc/ops/math/step_math.h's
# StepGrad, and the |beta x| past which SwishSign's is 0 (csrc/ops/elementwise/step.h's kSwishSignArgumentCap).
STEP_GRADS = ("identity", "clipped", "approx_sign", "swish_sign")
SWISH_SIGN_ARGUMENT_CAP = 1e4


def sign(input: Tensor, grad: str = "identity", beta: float = 5.0) -> Tensor:
    r"""The perceptron's sign unit, trainable: :math:`-1` for :math:`x < 0`, :math:`+1` for :math:`x \geq 0`
    (:math:`-0` included, the binary-network convention; :func:`torch.sign` gives 0 there), NaN for NaN
    (:func:`torch.sign` gives 0). Its
    gradient is the surrogate that :attr:`grad` names. See :class:`torch_ext.nn.Sign`."""
    return torch.ops.torch_ext.sign(input, grad, beta)


def heaviside(input: Tensor, grad: str = "identity", beta: float = 5.0) -> Tensor:
    r"""The perceptron's step unit, trainable: :math:`(\text{sign}(x) + 1) / 2`, 0 for :math:`x < 0` and 1 for
    :math:`x \geq 0`; its gradient is half of :func:`sign`'s surrogate. See :class:`torch_ext.nn.Heaviside`."""
    return torch.ops.torch_ext.heaviside(input, grad, beta)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Optional[Tensor] = None,
    size_average: Optional[bool] = None,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    pos_weight: Optional[Tensor] = None,
) -> Tensor:
    r"""Binary cross-entropy between the sigmoid of :attr:`input` (logits) and :attr:`target`, fused into one pass:
    per element :math:`w \left((1 - t) x - (1 + (p - 1) t) \log\sigma(x)\right)`, then reduced, as
    :func:`torch.nn.functional.binary_cross_entropy_with_logits` (same arguments; :attr:`weight` and
    :attr:`pos_weight` broadcast to the input's shape and are not differentiable; target, weight and pos_weight
    have the input's dtype). See :class:`torch_ext.nn.BCEWithLogitsLoss`."""
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    if target.size() != input.size():
        raise ValueError(f"Target size ({target.size()}) must be the same as input size ({input.size()})")
    return torch.ops.torch_ext.binary_cross_entropy_with_logits(
        input, target, weight, pos_weight, _reduction.get_enum(reduction))


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Optional[Tensor] = None,
    size_average: Optional[bool] = None,
    ignore_index: int = -100,
    reduce: Optional[bool] = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    lse_square_scale: float = 0.0,
) -> Tensor:
    r"""Cross-entropy between the softmax of :attr:`input` (logits) over its class dim and :attr:`target`, fused:
    log_softmax and the negative log-likelihood in one pass that keeps one log-sum-exp per row (no N x C tensor),
    and the gradient in one more. The arguments and semantics of :func:`torch.nn.functional.cross_entropy`:
    input ``[C]``, ``[N, C]`` or ``[N, C, d1, ...]``; target class indices (int64, the input's shape without the
    class dim) or class probabilities (the input's shape and dtype); :attr:`weight` per class (not
    differentiable); :attr:`ignore_index` for class indices; :attr:`label_smoothing` in [0, 1].

    :attr:`lse_square_scale` adds the z-loss :math:`z \cdot \operatorname{logsumexp}(x)^2` to each row's loss (rows
    ignored by :attr:`ignore_index` excepted), as in large-model training. See :class:`torch_ext.nn.CrossEntropyLoss`."""
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    return torch.ops.torch_ext.cross_entropy(input, target, weight, _reduction.get_enum(reduction), ignore_index,
                                             label_smoothing, lse_square_scale)
