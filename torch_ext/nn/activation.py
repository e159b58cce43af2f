"""Activation modules mirroring ``torch.nn.modules.activation``: same arguments, defaults,
constants, ``repr`` and state_dict, backed by ``torch.ops.torch_ext``."""

from typing import Optional

import torch
from torch import Tensor
from torch.nn import Module, Parameter, init

from .. import functional as F

__all__ = [
    "ELU", "CELU", "SELU", "PReLU", "RReLU", "Softplus", "Softmax", "Softmin", "Softmax2d", "LogSoftmax", "Sigmoid",
    "Tanh", "LogSigmoid", "ReLU", "LeakyReLU", "Sign", "Heaviside",
]


class ELU(Module):
    r"""Applies the Exponential Linear Unit (ELU) function, element-wise.

    .. math::
        \text{ELU}(x) = \begin{cases}
        x, & \text{ if } x > 0\\
        \alpha * (\exp(x) - 1), & \text{ if } x \leq 0
        \end{cases}

    Args:
        alpha (float): the :math:`\alpha` value for the ELU formulation. Default: 1.0
        inplace (bool): can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.ELU()
        >>> output = m(torch.randn(2))
    """

    __constants__ = ["alpha", "inplace"]
    alpha: float
    inplace: bool

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace_str}"


class CELU(Module):
    r"""Applies the CELU function element-wise.

    .. math::
        \text{CELU}(x) = \max(0,x) + \min(0, \alpha * (\exp(x/\alpha) - 1))

    Args:
        alpha (float): the :math:`\alpha` value for the CELU formulation (not 0). Default: 1.0
        inplace (bool): can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.CELU()
        >>> output = m(torch.randn(2))
    """

    __constants__ = ["alpha", "inplace"]
    alpha: float
    inplace: bool

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.celu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"alpha={self.alpha}{inplace_str}"


class SELU(Module):
    r"""Applies the SELU function element-wise.

    .. math::
        \text{SELU}(x) = \text{scale} * (\max(0,x) + \min(0, \alpha * (\exp(x) - 1)))

    with :math:`\alpha = 1.6732632423543772848170429916717` and
    :math:`\text{scale} = 1.0507009873554804934193349852946`.

    Args:
        inplace (bool, optional): can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.SELU()
        >>> output = m(torch.randn(2))
    """

    __constants__ = ["inplace"]
    inplace: bool

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.selu(input, self.inplace)

    def extra_repr(self) -> str:
        inplace_str = "inplace=True" if self.inplace else ""
        return inplace_str


class PReLU(Module):
    r"""Applies the element-wise PReLU function.

    .. math::
        \text{PReLU}(x) = \max(0,x) + a * \min(0,x)

    with one learnable :math:`a` shared by all channels (``num_parameters=1``) or one per channel
    (``num_parameters`` = the size of dim 1 of the input).

    Args:
        num_parameters (int): number of :math:`a` to learn: 1, or the number of channels. Default: 1
        init (float): the initial value of :math:`a`. Default: 0.25

    Shape:
        - Input: :math:`( *)` where `*` means, any number of additional dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Attributes:
        weight (Tensor): the learnable weights of shape (:attr:`num_parameters`).

    Examples::

        >>> m = torch_ext.nn.PReLU()
        >>> output = m(torch.randn(2))
    """

    __constants__ = ["num_parameters"]
    num_parameters: int

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None, dtype=None) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        self.num_parameters = num_parameters
        super().__init__()
        self.init = init
        self.weight = Parameter(torch.empty(num_parameters, **factory_kwargs))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class RReLU(Module):
    r"""Applies the randomized leaky rectified linear unit function, element-wise.

    .. math::
        \text{RReLU}(x) = \begin{cases} x & \text{if } x \geq 0 \\ ax & \text{ otherwise } \end{cases}

    where :math:`a` is drawn from :math:`\mathcal{U}(\text{lower}, \text{upper})` for each element in
    training, and is :math:`(\text{lower} + \text{upper}) / 2` in evaluation.

    Args:
        lower: lower bound of the uniform distribution. Default: :math:`\frac{1}{8}`
        upper: upper bound of the uniform distribution. Default: :math:`\frac{1}{3}`
        inplace: can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.RReLU(0.1, 0.3)
        >>> output = m(torch.randn(2))
    """

    __constants__ = ["lower", "upper", "inplace"]
    lower: float
    upper: float
    inplace: bool

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False) -> None:
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"lower={self.lower}, upper={self.upper}{inplace_str}"


class Softplus(Module):
    r"""Applies the Softplus function element-wise.

    .. math::
        \text{Softplus}(x) = \frac{1}{\beta} * \log(1 + \exp(\beta * x))

    For numerical stability the implementation reverts to the linear function when
    :math:`input \times \beta > threshold`.

    Args:
        beta (float): the :math:`\beta` value for the Softplus formulation. Default: 1
        threshold (float): values above this revert to a linear function. Default: 20

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.Softplus()
        >>> output = m(torch.randn(2))
    """

    __constants__ = ["beta", "threshold"]
    beta: float
    threshold: float

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    r"""Applies the Softmax function to an n-dimensional input Tensor.

    Rescales it so that the elements of the n-dimensional output Tensor lie in the range [0,1] and every slice along
    ``dim`` sums to 1.

    .. math::
        \text{Softmax}(x_{i}) = \frac{\exp(x_i)}{\sum_j \exp(x_j)}

    Computed as :math:`\exp(x_i - m) / \sum_j \exp(x_j - m)` with :math:`m = \max_j x_j`, in float for half and
    bfloat16 inputs. A slice holding NaN or +inf gives NaN, as does a slice of only -inf.

    Args:
        dim (int): A dimension along which Softmax will be computed (so every slice along dim will sum to 1).

    Shape:
        - Input: :math:`(*)` where `*` means, any number of additional dimensions
        - Output: :math:`(*)`, same shape as the input

    Returns:
        a Tensor of the same dimension and shape as the input with values in the range [0, 1]

    Examples::

        >>> m = torch_ext.nn.Softmax(dim=1)
        >>> output = m(torch.randn(2, 3))
    """

    __constants__ = ["dim"]
    dim: Optional[int]

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state):
        super().__setstate__(state)
        if not hasattr(self, "dim"):
            self.dim = None

    def forward(self, input: Tensor) -> Tensor:
        # NB: _stacklevel=5 points the dim=None warning at the caller of the module, as torch.nn.Softmax.
        return F.softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(Module):
    r"""Applies the Softmin function to an n-dimensional input Tensor.

    Rescales it so that the elements of the n-dimensional output Tensor lie in the range `[0, 1]` and every slice
    along ``dim`` sums to 1.

    .. math::
        \text{Softmin}(x_{i}) = \frac{\exp(-x_i)}{\sum_j \exp(-x_j)}

    Computed as :class:`Softmax` of :math:`-x` (torch_ext's softmax kernels).

    Args:
        dim (int): A dimension along which Softmin will be computed (so every slice along dim will sum to 1).

    Shape:
        - Input: :math:`(*)` where `*` means, any number of additional dimensions
        - Output: :math:`(*)`, same shape as the input

    Returns:
        a Tensor of the same dimension and shape as the input, with values in the range [0, 1]

    Examples::

        >>> m = torch_ext.nn.Softmin(dim=1)
        >>> output = m(torch.randn(2, 3))
    """

    __constants__ = ["dim"]
    dim: Optional[int]

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state):
        super().__setstate__(state)
        if not hasattr(self, "dim"):
            self.dim = None

    def forward(self, input: Tensor) -> Tensor:
        # NB: _stacklevel=5 points the dim=None warning at the caller of the module, as torch.nn.Softmin.
        return F.softmin(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax2d(Module):
    r"""Applies SoftMax over features to each spatial location.

    When given an image of ``Channels x Height x Width``, it will apply `Softmax` to each location
    :math:`(Channels, h_i, w_j)`:

    .. math::
        \text{Softmax2d}(x)_{c, h, w} = \frac{\exp(x_{c, h, w})}{\sum_{c'} \exp(x_{c', h, w})}

    Shape:
        - Input: :math:`(N, C, H, W)` or :math:`(C, H, W)`.
        - Output: :math:`(N, C, H, W)` or :math:`(C, H, W)` (same shape as input)

    Returns:
        a Tensor of the same dimension and shape as the input with values in the range [0, 1]

    Examples::

        >>> m = torch_ext.nn.Softmax2d()
        >>> # softmax over the 2nd dimension
        >>> output = m(torch.randn(2, 3, 12, 13))
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
        # The channel dim of (N, C, H, W) and of (C, H, W).
        return F.softmax(input, -3, _stacklevel=5)


class LogSoftmax(Module):
    r"""Applies the :math:`\log(\text{Softmax}(x))` function to an n-dimensional input Tensor.

    .. math::
        \text{LogSoftmax}(x_{i}) = \log\left(\frac{\exp(x_i) }{ \sum_j \exp(x_j)} \right)

    Computed as :math:`(x_i - m) - \log \sum_j \exp(x_j - m)` with :math:`m = \max_j x_j`, in float for half and
    bfloat16 inputs.

    Args:
        dim (int): A dimension along which LogSoftmax will be computed.

    Shape:
        - Input: :math:`(*)` where `*` means, any number of additional dimensions
        - Output: :math:`(*)`, same shape as the input

    Returns:
        a Tensor of the same dimension and shape as the input with values in the range [-inf, 0)

    Examples::

        >>> m = torch_ext.nn.LogSoftmax(dim=1)
        >>> output = m(torch.randn(2, 3))
    """

    __constants__ = ["dim"]
    dim: Optional[int]

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def __setstate__(self, state):
        super().__setstate__(state)
        if not hasattr(self, "dim"):
            self.dim = None

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Sigmoid(Module):
    r"""Applies the Sigmoid function element-wise.

    .. math::
        \text{Sigmoid}(x) = \sigma(x) = \frac{1}{1 + \exp(-x)}

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.Sigmoid()
        >>> output = m(torch.randn(2))
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    r"""Applies the Hyperbolic Tangent (Tanh) function element-wise.

    .. math::
        \text{Tanh}(x) = \tanh(x) = \frac{\exp(x) - \exp(-x)}{\exp(x) + \exp(-x)}

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.Tanh()
        >>> output = m(torch.randn(2))
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class LogSigmoid(Module):
    r"""Applies the Logsigmoid function element-wise.

    .. math::
        \text{LogSigmoid}(x) = \log\left(\frac{ 1 }{ 1 + \exp(-x)}\right)

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.LogSigmoid()
        >>> output = m(torch.randn(2))
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class ReLU(Module):
    r"""Applies the rectified linear unit function element-wise.

    .. math::
        \text{ReLU}(x) = (x)^+ = \max(0, x)

    Args:
        inplace (bool): can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.ReLU()
        >>> output = m(torch.randn(2))
    """

    __constants__ = ["inplace"]
    inplace: bool

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    r"""Applies the LeakyReLU function element-wise.

    .. math::
        \text{LeakyReLU}(x) = \begin{cases}
        x, & \text{ if } x > 0\\
        \text{negative\_slope} \times x, & \text{ otherwise }
        \end{cases}

    Args:
        negative_slope (float): controls the angle of the negative slope (used for negative input values).
            Default: 1e-2
        inplace (bool): can optionally do the operation in-place. Default: ``False``

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.LeakyReLU(0.1)
        >>> output = m(torch.randn(2))
    """

    __constants__ = ["inplace", "negative_slope"]
    inplace: bool
    negative_slope: float

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        inplace_str = ", inplace=True" if self.inplace else ""
        return f"negative_slope={self.negative_slope}{inplace_str}"


class _StepUnit(Module):
    """Sign's and Heaviside's arguments (grad, beta)."""

    __constants__ = ["grad", "beta"]
    grad: str
    beta: float

    def __init__(self, grad: str = "identity", beta: float = 5.0) -> None:
        super().__init__()
        self.grad = grad
        self.beta = beta

    def extra_repr(self) -> str:
        return f"grad={self.grad!r}, beta={self.beta}"


class Sign(_StepUnit):
    r"""The perceptron's sign unit, made trainable with a straight-through surrogate gradient.

    .. math::
        \text{Sign}(x) = \begin{cases} -1, & x < 0 \\ +1, & x \geq 0 \end{cases}

    :math:`-0` maps to :math:`+1` (the binary-network convention; :func:`torch.sign` gives 0 at 0) and NaN to NaN
    (:func:`torch.sign` gives 0).
    The true derivative is 0 almost everywhere, so the backward uses a surrogate :math:`d(x)` instead:

    - ``"identity"``: :math:`1` (the straight-through estimator);
    - ``"clipped"``: :math:`1` where :math:`|x| \leq 1`, else 0 (hardtanh's derivative);
    - ``"approx_sign"``: :math:`2 - 2|x|` where :math:`|x| \leq 1`, else 0 (ApproxSign, Bi-Real Net);
    - ``"swish_sign"``: :math:`\beta(2 - \beta x \tanh(\beta x / 2)) / (1 + \cosh(\beta x))` (SwishSign, BNN+).

    Args:
        grad (str): the surrogate gradient. Default: ``"identity"``
        beta (float): SwishSign's sharpness, finite and positive. Default: 5.0

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.Sign(grad="swish_sign", beta=3.0)
        >>> output = m(torch.randn(2))
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sign(input, self.grad, self.beta)


class Heaviside(_StepUnit):
    r"""The perceptron's step unit, made trainable with half of :class:`Sign`'s surrogate gradient.

    .. math::
        \text{Heaviside}(x) = \frac{\text{Sign}(x) + 1}{2} = \begin{cases} 0, & x < 0 \\ 1, & x \geq 0 \end{cases}

    Args:
        grad (str): the surrogate gradient, as :class:`Sign`'s. Default: ``"identity"``
        beta (float): SwishSign's sharpness, finite and positive. Default: 5.0

    Shape:
        - Input: :math:`(*)`, where :math:`*` means any number of dimensions.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = torch_ext.nn.Heaviside(grad="clipped")
        >>> output = m(torch.randn(2))
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.heaviside(input, self.grad, self.beta)
