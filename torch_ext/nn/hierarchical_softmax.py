"""Hierarchical softmax: a classifier over C classes that costs O(log C) per row instead of O(C), over
torch_ext's fused ops (torch.ops.torch_ext.hsoftmax_nll and hsoftmax_log_prob)."""

import math
from collections import namedtuple
from typing import Any, Optional, Sequence, Union

import torch
from torch import Tensor
from torch.nn import Module, Parameter, init

from .. import hsoftmax_tree

try:  # the same type as nn.AdaptiveLogSoftmaxWithLoss's output, so that code written for one takes the other
    from torch.nn.modules.adaptive import _ASMoutput
except ImportError:  # pragma: no cover (a private name: keep working if torch drops it)
    _ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])

__all__ = ["HierarchicalSoftmax"]

_TREE_BUFFERS = ("path_nodes", "path_codes", "path_len")


class HierarchicalSoftmax(Module):
    r"""Hierarchical softmax (Morin & Bengio, 2005; word2vec's ``-hs``): the classes are the leaves of a binary
    tree, each inner node :math:`n` a logistic unit :math:`\sigma(w_n \cdot x + b_n)` that picks a child, and a class's
    probability the product of the choices along its path.

    .. math::
        \log p(c \mid x) = \sum_{j < \text{len}_c} \log \sigma\big((1 - 2\, \text{code}_{c,j})
            (w_{\text{node}_{c,j}} \cdot x + b_{\text{node}_{c,j}})\big)

    A row's loss reads only its target's path (:math:`\lceil \log_2 C \rceil` rows of ``weight`` for a balanced
    tree, fewer on average for a Huffman tree of the class counts). The probabilities of all classes sum to 1.

    Like :class:`torch.nn.AdaptiveLogSoftmaxWithLoss`, :meth:`forward` takes the input and the target and returns
    a named tuple ``(output, loss)``; :meth:`log_prob` gives every class's log-probability and :meth:`predict` the
    most likely classes.

    Args:
        in_features (int): D, the size of each input row.
        n_classes (int): C, the number of classes (at least 2).
        tree (str or sequence, optional): ``'huffman'``: word2vec's Huffman tree of :attr:`counts`
            (:func:`torch_ext.hsoftmax_tree.huffman`), frequent classes on short paths; ``'balanced'``: a complete
            binary tree (:func:`torch_ext.hsoftmax_tree.balanced`); or the paths themselves, one sequence of
            ``(node, code)`` pairs per class, root first (:func:`torch_ext.hsoftmax_tree.from_paths`).
            Default: ``'huffman'``
        counts (Tensor or sequence, optional): the count (or frequency) of each class, required by
            ``tree='huffman'`` and only used by it.
        bias (bool, optional): if ``False``, the inner nodes have no bias. Default: ``True``
        reduction (str, optional): ``'none'`` | ``'mean'`` | ``'sum'``: the loss per row, its mean over the rows
            whose target is not :attr:`ignore_index` (NaN if there are none, as in :func:`F.cross_entropy`), or
            its sum. Default: ``'mean'``
        ignore_index (int, optional): a target that is ignored: its row's output and loss are 0, it has no
            gradient and does not count in the mean. Default: -100

    Attributes:
        weight (Tensor): the inner nodes' weights, :math:`(C - 1, D)`, initialized from
            :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})` with :math:`k = 1 / D` (as :class:`torch.nn.Linear`'s).
        bias (Tensor): the inner nodes' biases, :math:`(C - 1)`, initialized as the weight.
        path_nodes, path_codes, path_len (Tensor): the tree (buffers, saved in the state_dict): each class's inner
            nodes :math:`(C, L)` int32, codes :math:`(C, L)` int8 (0: :math:`\sigma(z)`, 1: :math:`\sigma(-z)`) and
            path length :math:`(C)` int32.

    Shape:
        - input: :math:`(N, D)` or :math:`(D)`.
        - target: :math:`(N)` or :math:`()`, int64, each in :math:`[0, C)` or :attr:`ignore_index`.
        - output1 (``output``): :math:`(N)` or :math:`()`, each row's log-probability of its target.
        - output2 (``loss``): a scalar; :math:`(N)` or :math:`()` for ``reduction='none'``.

    Examples::

        >>> counts = torch.tensor([50, 30, 10, 5, 3, 2])
        >>> m = torch_ext.nn.HierarchicalSoftmax(16, 6, tree="huffman", counts=counts)
        >>> input = torch.randn(8, 16, requires_grad=True)
        >>> target = torch.randint(6, (8,))
        >>> output, loss = m(input, target)
        >>> loss.backward()
        >>> m.predict(input).shape
        torch.Size([8])
    """

    __constants__ = ["in_features", "n_classes", "reduction", "ignore_index"]
    in_features: int
    n_classes: int
    reduction: str
    ignore_index: int
    weight: Tensor
    bias: Optional[Tensor]
    path_nodes: Tensor
    path_codes: Tensor
    path_len: Tensor

    def __init__(
        self,
        in_features: int,
        n_classes: int,
        *,
        tree: Union[str, Sequence[Sequence[Any]], hsoftmax_tree.Tree] = "huffman",
        counts: Optional[Union[Tensor, Sequence[float]]] = None,
        bias: bool = True,
        reduction: str = "mean",
        ignore_index: int = -100,
        device=None,
        dtype=None,
    ) -> None:
        factory_kwargs = {"device": device, "dtype": dtype}
        super().__init__()
        if in_features <= 0:
            raise ValueError(f"in_features must be positive, got {in_features}")
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        built = self._build_tree(n_classes, tree, counts)
        self.in_features = in_features
        self.n_classes = n_classes
        self.reduction = reduction
        self.ignore_index = ignore_index
        self.tree_kind = tree if isinstance(tree, str) else "paths"
        self.weight = Parameter(torch.empty((n_classes - 1, in_features), **factory_kwargs))
        if bias:
            self.bias = Parameter(torch.empty(n_classes - 1, **factory_kwargs))
        else:
            self.register_parameter("bias", None)
        for name in _TREE_BUFFERS:
            self.register_buffer(name, getattr(built, name).to(device))
        self.reset_parameters()

    @staticmethod
    def _build_tree(n_classes: int, tree: Any, counts: Any) -> hsoftmax_tree.Tree:
        if isinstance(tree, str):
            if tree == "huffman":
                if counts is None:
                    raise ValueError("tree='huffman' needs counts, the count of each class")
                built = hsoftmax_tree.huffman(counts)
                if built.n_classes != n_classes:
                    raise ValueError(f"counts must have one count per class ({n_classes}), got {built.n_classes}")
                return built
            if counts is not None:
                raise ValueError(f"counts is only used by tree='huffman', got tree={tree!r}")
            if tree == "balanced":
                return hsoftmax_tree.balanced(n_classes)
            raise ValueError(f"tree must be 'huffman', 'balanced' or a sequence of paths, got {tree!r}")
        if counts is not None:
            raise ValueError("counts is only used by tree='huffman', got paths")
        built = tree if isinstance(tree, hsoftmax_tree.Tree) else hsoftmax_tree.from_paths(tree)
        if built.n_classes != n_classes:
            raise ValueError(f"tree must have one path per class ({n_classes}), got {built.n_classes}")
        return built

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.in_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def _check_input(self, input: Tensor) -> None:
        if input.dim() not in (1, 2):
            raise ValueError(f"input must be 1-D (D) or 2-D (N, D), got shape {list(input.shape)}")
        if input.size(-1) != self.in_features:
            raise ValueError(f"input must have in_features={self.in_features} features (its last dim), got shape "
                             f"{list(input.shape)}")

    def _tree_args(self):
        return self.path_nodes, self.path_codes, self.path_len

    def forward(self, input: Tensor, target: Tensor) -> _ASMoutput:
        self._check_input(input)
        batched = input.dim() == 2
        if target.dim() != (1 if batched else 0) or (batched and target.size(0) != input.size(0)):
            expected = f"(N) = ({input.size(0)})" if batched else "() for a 1-D input"
            raise ValueError(f"target must have shape {expected}, got {list(target.shape)} "
                             f"(input {list(input.shape)})")
        if target.dtype != torch.long:
            raise ValueError(f"target must hold class indices as int64, got {target.dtype}")
        rows, targets = (input, target) if batched else (input.unsqueeze(0), target.unsqueeze(0))
        nll = torch.ops.torch_ext.hsoftmax_nll(rows, self.weight, self.bias, *self._tree_args(), targets,
                                               self.ignore_index)
        if self.reduction == "none":
            loss = nll
        elif self.reduction == "sum":
            loss = nll.sum()
        else:
            # 0 / 0 = NaN when every row is ignored, as F.cross_entropy's mean.
            loss = nll.sum() / (targets != self.ignore_index).sum().to(nll.dtype)
        output = -nll
        if not batched:
            output = output.squeeze(0)
            if self.reduction == "none":
                loss = loss.squeeze(0)
        return _ASMoutput(output, loss)

    def log_prob(self, input: Tensor) -> Tensor:
        r"""Every class's log-probability.

        Args:
            input (Tensor): :math:`(N, D)` or :math:`(D)`.

        Returns:
            Tensor: :math:`(N, C)` or :math:`(C)`, in input's dtype.
        """
        self._check_input(input)
        rows = input if input.dim() == 2 else input.unsqueeze(0)
        out = torch.ops.torch_ext.hsoftmax_log_prob(rows, self.weight, self.bias, *self._tree_args())
        return out if input.dim() == 2 else out.squeeze(0)

    def predict(self, input: Tensor, k: Optional[int] = None) -> Tensor:
        r"""The most likely class of each row, or its ``k`` most likely classes.

        Args:
            input (Tensor): :math:`(N, D)` or :math:`(D)`.
            k (int, optional): how many classes per row, most likely first, in ``[1, C]``. Default: ``None``
                (the single most likely class, without a k dimension).

        Returns:
            Tensor: int64, :math:`(N)` or :math:`()`; :math:`(N, k)` or :math:`(k)` with ``k``.
        """
        if k is not None and not 1 <= k <= self.n_classes:
            raise ValueError(f"k must be in [1, n_classes={self.n_classes}], got {k}")
        log_prob = self.log_prob(input)
        if k is None:
            return log_prob.argmax(-1)
        return log_prob.topk(k, dim=-1).indices

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs) -> None:
        # A saved tree may be deeper or shallower than this module's (another tree over the same classes): take
        # its shape, so that loading gives the saved model. The class count must match (weight's shape does).
        for name in ("path_nodes", "path_codes"):
            saved = state_dict.get(prefix + name)
            mine = getattr(self, name)
            if isinstance(saved, Tensor) and saved.dim() == 2 and saved.size(0) == mine.size(0) and \
                    saved.size(1) != mine.size(1):
                setattr(self, name, torch.zeros(saved.shape, dtype=mine.dtype, device=mine.device))
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, n_classes={self.n_classes}, tree={self.tree_kind!r}, "
                f"depth={self.path_nodes.size(1)}, bias={self.bias is not None}, reduction={self.reduction!r}, "
                f"ignore_index={self.ignore_index}")
