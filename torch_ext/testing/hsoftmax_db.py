"""Hierarchical softmax's row: its registered ops, its layer, and its samples (a tree, the operands and targets). Its
operands -- parameters and a tree besides an input and a target -- fit neither op_db's activations nor loss_db's
(input, target) losses; the completeness tests (tests/test_ops.py), tests/test_hsoftmax.py, the out= tests and the
benchmark read it from here."""

import dataclasses
import zlib
from typing import Optional

import torch

from torch_ext import hsoftmax_tree

ops = torch.ops.torch_ext

OPS = ("hsoftmax_nll", "hsoftmax_nll_forward", "hsoftmax_nll_backward", "hsoftmax_log_prob")
MODULE = "HierarchicalSoftmax"


@dataclasses.dataclass
class HsoftmaxSample:
    """One call's operands: input [N, D], weight [C - 1, D], bias [C - 1] or None, the tree, target [N]."""

    input: torch.Tensor
    weight: torch.Tensor
    bias: Optional[torch.Tensor]
    tree: hsoftmax_tree.Tree
    target: torch.Tensor
    ignore_index: int = -100

    @property
    def tree_args(self) -> tuple:
        t = self.tree
        return (t.path_nodes.to(self.input.device), t.path_codes.to(self.input.device),
                t.path_len.to(self.input.device))

    def nll_args(self) -> tuple:
        """hsoftmax_nll's (and its forward op's) positional arguments."""
        return (self.input, self.weight, self.bias, *self.tree_args, self.target, self.ignore_index)

    def log_prob_args(self) -> tuple:
        return (self.input, self.weight, self.bias, *self.tree_args)

    def backward_args(self, grad_output: torch.Tensor) -> tuple:
        """hsoftmax_nll_backward's arguments: the forward op's logits from the operands' values."""
        detached = [t.detach() if isinstance(t, torch.Tensor) else t for t in self.nll_args()]
        _, logits = ops.hsoftmax_nll_forward(*detached)
        return (grad_output, *self.nll_args(), logits)

    def map(self, fn) -> "HsoftmaxSample":
        """fn applied to the floating operands (input, weight, bias)."""
        return HsoftmaxSample(fn(self.input), fn(self.weight), None if self.bias is None else fn(self.bias), self.tree,
                              self.target, self.ignore_index)

    def to(self, dtype=None, device=None) -> "HsoftmaxSample":
        moved = self.map(lambda t: t.to(device=device, dtype=dtype))
        moved.target = self.target.to(device)
        return moved


def tree_of(kind: str, classes: int, seed: int = 0) -> hsoftmax_tree.Tree:
    """huffman (Zipf-like counts: paths of many lengths) or balanced."""
    if kind == "huffman":
        counts = (1000.0 / torch.arange(1, classes + 1, dtype=torch.float64)).round() + 1
        return hsoftmax_tree.huffman(counts)
    return hsoftmax_tree.balanced(classes)


def make_sample(rows: int = 6, dim: int = 5, classes: int = 7, tree: str = "huffman", bias: bool = True,
                ignored: int = 1, dtype=torch.float64, device="cpu", scale: float = 1.0) -> HsoftmaxSample:
    """Operands ~ N(0, scale^2 / dim) (scores of order scale), every class among the targets when rows allow it, the
    first `ignored` rows' targets set to ignore_index."""
    g = torch.Generator().manual_seed(zlib.crc32(repr((rows, dim, classes, tree, bias, ignored)).encode()))
    x = torch.randn(rows, dim, generator=g, dtype=torch.float64)
    w = torch.randn(classes - 1, dim, generator=g, dtype=torch.float64) * (scale / dim ** 0.5)
    b = torch.randn(classes - 1, generator=g, dtype=torch.float64) * 0.5 if bias else None
    target = torch.randperm(max(rows, classes), generator=g)[:rows] % classes
    target[:ignored] = -100
    sample = HsoftmaxSample(x, w, b, tree_of(tree, classes), target)
    return sample.to(dtype=dtype, device=device)
