"""The binary trees of hierarchical softmax: each class is a leaf, reached from the root by a path of inner nodes,
and at each inner node a code says which child the path takes.

A :class:`Tree` stores, per class ``c``, the path's inner nodes ``path_nodes[c, :path_len[c]]`` (root first) and
codes ``path_codes[c, :path_len[c]]``; entries past ``path_len[c]`` are padding (node 0, code 0) that the ops never
read. Inner node ``n`` owns the row ``n`` of the layer's ``weight`` [C - 1, D] and ``bias`` [C - 1]. Code 0 means the
path takes the child of probability :math:`\\sigma(z)`, code 1 the child of probability :math:`\\sigma(-z)` where
:math:`z = w_n \\cdot x + b_n` (word2vec's convention, whose label is ``1 - code``).

Three ways to build one: :func:`huffman` (word2vec's tree from class counts), :func:`balanced` (a complete binary
tree) and :func:`from_paths` (user-given paths, validated).
"""

import math
import operator
from dataclasses import dataclass
from typing import Sequence, Tuple, Union

import torch
from torch import Tensor

__all__ = ["MAX_DEPTH", "Tree", "huffman", "balanced", "from_paths"]

# word2vec's MAX_CODE_LENGTH: the longest path it can store.
MAX_DEPTH = 40


@dataclass(frozen=True, eq=False)
class Tree:
    r"""A hierarchical softmax tree over ``C`` classes with ``C - 1`` inner nodes (ids ``0 .. C - 2``).

    Attributes:
        path_nodes (Tensor): :math:`(C, L)`, int32: each class's inner nodes, root first, padded with 0.
        path_codes (Tensor): :math:`(C, L)`, int8: each class's codes (0: :math:`\sigma(z)`, 1:
            :math:`\sigma(-z)`), padded with 0.
        path_len (Tensor): :math:`(C)`, int32: each class's path length, in ``[1, L]``.
    """

    path_nodes: Tensor
    path_codes: Tensor
    path_len: Tensor

    def __post_init__(self) -> None:
        # A cheap structural check only: the builders below validate the tree itself.
        if self.path_nodes.dtype != torch.int32 or self.path_codes.dtype != torch.int8 or \
                self.path_len.dtype != torch.int32:
            raise TypeError("Tree expects path_nodes int32, path_codes int8 and path_len int32, got "
                            f"{self.path_nodes.dtype}, {self.path_codes.dtype} and {self.path_len.dtype}")
        if self.path_nodes.dim() != 2 or self.path_codes.shape != self.path_nodes.shape or \
                self.path_len.shape != self.path_nodes.shape[:1]:
            raise ValueError("Tree expects path_nodes and path_codes of shape [C, L] and path_len of shape [C], got "
                             f"{list(self.path_nodes.shape)}, {list(self.path_codes.shape)} and "
                             f"{list(self.path_len.shape)}")

    @property
    def n_classes(self) -> int:
        """C, the number of classes (leaves)."""
        return self.path_nodes.size(0)

    @property
    def depth(self) -> int:
        """L, the longest path's length (the padded width of ``path_nodes`` and ``path_codes``)."""
        return self.path_nodes.size(1)


def _paths_from_parents(parent: Tensor, code: Tensor, leaves: Tensor, root: int, max_depth: int,
                        first_inner: int = 0) -> Tree:
    """The tree of the leaves ``leaves`` (class c is the node ``leaves[c]``), given every node's parent and the
    code of the edge into it, in one vectorized walk up from all leaves at once. Node ``first_inner + n`` is the
    inner node ``n`` of the paths."""
    node = leaves.clone()
    up_nodes, up_codes = [], []  # step k: the k-th edge above each leaf, leaf side first
    length = torch.zeros_like(leaves)
    active = torch.ones_like(leaves, dtype=torch.bool)
    while bool(active.any()):
        if len(up_nodes) == max_depth:
            # Finish the walk without storing it, for the message's depth.
            depth = len(up_nodes)
            while bool(active.any()):
                node = torch.where(active, parent[node], node)
                active &= node != root
                depth += 1
            raise ValueError(f"the tree's depth {depth} exceeds max_depth={max_depth}")
        up_codes.append(torch.where(active, code[node], 0))
        node = torch.where(active, parent[node], node)
        up_nodes.append(torch.where(active, node - first_inner, 0))
        length += active.long()
        active &= node != root
    up_nodes_t = torch.stack(up_nodes, 1)
    up_codes_t = torch.stack(up_codes, 1)
    # Root first: position j of a path of length n is its step n - 1 - j up from the leaf.
    j = torch.arange(up_nodes_t.size(1))
    valid = j < length[:, None]
    step = (length[:, None] - 1 - j).clamp_min(0)
    path_nodes = torch.where(valid, up_nodes_t.gather(1, step), 0)
    path_codes = torch.where(valid, up_codes_t.gather(1, step), 0)
    return Tree(path_nodes.to(torch.int32), path_codes.to(torch.int8), length.to(torch.int32))


def huffman(counts: Union[Tensor, Sequence[float]], max_depth: int = MAX_DEPTH) -> Tree:
    r"""The Huffman tree of the class counts, built by word2vec's ``CreateBinaryTree`` (word2vec.c).

    For counts sorted in non-increasing order (word2vec's vocabulary order), the codes and inner nodes are
    word2vec's: inner node ``n`` is word2vec's ``point - vocab_size`` (the ``n``-th merge; the root is ``C - 2``) and
    the codes are word2vec's ``code`` array, root to leaf. Its merge order breaks a tie between a class and an inner
    node of equal count by merging the inner node first, and merges classes of equal count from the last one up.

    Counts in another order are sorted stably by decreasing count (classes of equal count keep their relative
    order), the tree is built over that order and mapped back: with ``order`` the stable descending order,
    ``huffman(counts)``'s row ``order[k]`` is word2vec's ``vocab[k]`` for the vocabulary ``counts[order]``. (word2vec
    itself sorts with ``qsort``, which is not stable: for its vocabulary, ties may come out in another order.)

    Args:
        counts (Tensor or sequence): 1-D, the non-negative finite count (or frequency) of each of ``C >= 2``
            classes. Integer counts are summed exactly; floating ones in float64.
        max_depth (int, optional): the longest path allowed. Default: :data:`MAX_DEPTH` (40, word2vec's
            ``MAX_CODE_LENGTH``; word2vec overflows its arrays past it, this raises a ValueError).

    Returns:
        Tree: a tree whose path lengths minimize :math:`\sum_c \text{counts}_c \cdot \text{len}_c`.

    Examples::

        >>> tree = huffman([5, 3, 2, 1])
        >>> tree.path_len
        tensor([1, 2, 3, 3], dtype=torch.int32)
    """
    values = torch.as_tensor(counts)
    if values.dtype == torch.bool or values.is_complex():
        raise ValueError(f"counts must be real numbers, got dtype {values.dtype}")
    if values.dim() != 1:
        raise ValueError(f"counts must be 1-D (one count per class), got shape {list(values.shape)}")
    if values.numel() < 2:
        raise ValueError(f"counts must have at least 2 classes, got {values.numel()}")
    if values.is_floating_point() and not bool(torch.isfinite(values).all()):
        raise ValueError("counts must be finite, got a NaN or infinite count")
    if bool((values < 0).any()):
        raise ValueError("counts must be non-negative, got a negative count")
    if max_depth < 1:
        raise ValueError(f"max_depth must be at least 1, got {max_depth}")
    cn = values.tolist() if not values.is_floating_point() else values.double().tolist()
    vocab_size = len(cn)
    # Python's sort with reverse=True keeps equal items in their order: the stable descending order.
    order = sorted(range(vocab_size), key=cn.__getitem__, reverse=True)

    # word2vec's two-pointer merge over the sorted counts: pos1 walks the classes from the rarest up, pos2 the
    # inner nodes in creation order (their counts do not decrease). word2vec marks the not-yet-created inner
    # nodes with a count of 1e15 (which breaks for larger counts); infinity is the same for smaller ones.
    count = [cn[c] for c in order] + [math.inf] * vocab_size
    parent_node = [0] * (2 * vocab_size - 1)
    binary = [0] * (2 * vocab_size - 1)
    pos1, pos2 = vocab_size - 1, vocab_size
    for a in range(vocab_size - 1):
        mins = []
        for _ in range(2):
            if pos1 >= 0 and count[pos1] < count[pos2]:
                mins.append(pos1)
                pos1 -= 1
            else:
                mins.append(pos2)
                pos2 += 1
        min1i, min2i = mins
        count[vocab_size + a] = count[min1i] + count[min2i]
        parent_node[min1i] = vocab_size + a
        parent_node[min2i] = vocab_size + a
        binary[min2i] = 1

    # Walk up over word2vec's node numbering (classes 0 .. C-1 in sorted order, inner node n at C + n, the root
    # at 2C - 2), storing inner node n as n: word2vec's point - vocab_size.
    sorted_tree = _paths_from_parents(torch.tensor(parent_node), torch.tensor(binary), torch.arange(vocab_size),
                                      2 * vocab_size - 2, max_depth, first_inner=vocab_size)
    # Back to the caller's class ids: the sorted tree's row k is class order[k].
    inverse = torch.empty(vocab_size, dtype=torch.long)
    inverse[torch.tensor(order)] = torch.arange(vocab_size)
    return Tree(sorted_tree.path_nodes[inverse].contiguous(), sorted_tree.path_codes[inverse].contiguous(),
                sorted_tree.path_len[inverse].contiguous())


def balanced(n_classes: int) -> Tree:
    r"""A complete binary tree over ``n_classes`` classes: depth :math:`\lceil \log_2 C \rceil`, every path of
    length ``depth`` or ``depth - 1``.

    Nodes are numbered as a binary heap: inner node ``n`` has children ``2n + 1`` (code 0) and ``2n + 2`` (code 1),
    ids ``0 .. C - 2`` are the inner nodes (the root is 0) and ``C - 1 .. 2C - 2`` the leaves. Classes are the
    leaves from left to right, so that class 0's codes are all 0 and the classes' code strings increase with
    the class.

    Args:
        n_classes (int): C, at least 2.

    Examples::

        >>> balanced(3).path_len
        tensor([2, 2, 1], dtype=torch.int32)
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, int):
        try:
            n_classes = operator.index(n_classes)
        except TypeError:
            raise ValueError(f"n_classes must be an int, got {type(n_classes).__name__}") from None
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    depth = (n_classes - 1).bit_length()  # ceil(log2 C)
    # The heap's last level (indices 2^depth - 1 .. 2C - 2) is the left part of the leaves, left to right; the
    # leaves one level up (C - 1 .. 2^depth - 2) follow.
    deep = torch.arange((1 << depth) - 1, 2 * n_classes - 1)
    shallow = torch.arange(n_classes - 1, (1 << depth) - 1)
    leaves = torch.cat([deep, shallow])
    heap = torch.arange(2 * n_classes - 1)
    parent = torch.where(heap > 0, (heap - 1) // 2, -1)
    code = torch.where(heap > 0, (heap - 1) % 2, 0)
    return _paths_from_parents(parent, code, leaves, 0, max(depth, 1))


def from_paths(paths: Sequence[Sequence[Tuple[int, int]]]) -> Tree:
    r"""The tree given by each class's path: ``paths[c]`` is the sequence of ``(node, code)`` pairs from the root
    to class ``c``'s leaf.

    The paths must form a binary tree over ``C = len(paths) >= 2`` leaves: inner node ids in ``[0, C - 2]``,
    codes 0 or 1, one root, no path a prefix of another (nor equal to it), each node reached by one code prefix
    only, and depth at most :data:`MAX_DEPTH`. Such a tree is full, so that the class probabilities sum to 1: the
    ``C`` leaves and the non-root inner nodes fill at most two child slots per inner node, which takes all ``C - 1``
    inner node ids with every slot used.

    Args:
        paths (sequence): one sequence of ``(node, code)`` pairs per class, root first.

    Raises:
        ValueError: naming ``paths`` and what was expected, for a path that breaks any of the above.

    Examples::

        >>> tree = from_paths([[(0, 0)], [(0, 1), (1, 0)], [(0, 1), (1, 1)]])
        >>> tree.path_len
        tensor([1, 2, 2], dtype=torch.int32)
    """
    try:
        paths = [list(path) for path in paths]
    except TypeError:
        raise ValueError("paths must be a sequence of paths, each a sequence of (node, code) pairs") from None
    n_classes = len(paths)
    if n_classes < 2:
        raise ValueError(f"paths must have at least 2 classes (paths), got {n_classes}")
    parsed = []
    for c, path in enumerate(paths):
        if not path:
            raise ValueError(f"paths[{c}] is empty; expected a non-empty sequence of (node, code) pairs")
        if len(path) > MAX_DEPTH:
            raise ValueError(f"paths[{c}] has length {len(path)}; expected at most MAX_DEPTH={MAX_DEPTH}")
        pairs = []
        for j, pair in enumerate(path):
            try:
                node, code = pair
                node, code = operator.index(node), operator.index(code)
            except (TypeError, ValueError):
                raise ValueError(f"paths[{c}][{j}] is {pair!r}; expected a (node, code) pair of ints") from None
            if not 0 <= node <= n_classes - 2:
                raise ValueError(f"paths[{c}][{j}] has node {node}; expected an inner node id in "
                                 f"[0, {n_classes - 2}] (C - 2 for C = {n_classes} classes)")
            if code not in (0, 1):
                raise ValueError(f"paths[{c}][{j}] has code {code}; expected 0 or 1")
            pairs.append((node, code))
        parsed.append(pairs)

    root = parsed[0][0][0]
    prefix_of_node = {}  # inner node -> the code string that reaches it
    child = {}  # (inner node, code) -> ("node", id) or ("leaf", class)
    for c, pairs in enumerate(parsed):
        if pairs[0][0] != root:
            raise ValueError(f"paths[{c}] starts at node {pairs[0][0]}; expected the root {root} (where paths[0] "
                             "starts): all paths must start at the same root")
        codes = []
        for j, (node, code) in enumerate(pairs):
            prefix = tuple(codes)
            seen = prefix_of_node.setdefault(node, prefix)
            if seen != prefix:
                raise ValueError(f"paths[{c}][{j}] reaches node {node} by codes {list(prefix)} but another path "
                                 f"reaches it by {list(seen)}; expected each node at one place in the tree")
            codes.append(code)
            below = ("node", pairs[j + 1][0]) if j + 1 < len(pairs) else ("leaf", c)
            other = child.setdefault((node, code), below)
            if other == below:
                continue
            if other[0] == "leaf" and below[0] == "leaf":
                raise ValueError(f"paths[{c}] equals paths[{other[1]}]; expected a distinct path per class")
            if other[0] == "leaf":
                raise ValueError(f"paths[{other[1]}] is a prefix of paths[{c}]; expected prefix-free paths "
                                 "(each class a leaf)")
            if below[0] == "leaf":
                raise ValueError(f"paths[{c}] is a prefix of another path; expected prefix-free paths "
                                 "(each class a leaf)")
            raise ValueError(f"paths[{c}][{j}] goes from node {node} by code {code} to node {below[1]}, another "
                             f"path to node {other[1]}; expected one child per (node, code)")

    depth = max(len(pairs) for pairs in parsed)
    path_nodes = torch.zeros(n_classes, depth, dtype=torch.int32)
    path_codes = torch.zeros(n_classes, depth, dtype=torch.int8)
    for c, pairs in enumerate(parsed):
        path_nodes[c, :len(pairs)] = torch.tensor([node for node, _ in pairs], dtype=torch.int32)
        path_codes[c, :len(pairs)] = torch.tensor([code for _, code in pairs], dtype=torch.int8)
    path_len = torch.tensor([len(pairs) for pairs in parsed], dtype=torch.int32)
    return Tree(path_nodes, path_codes, path_len)
