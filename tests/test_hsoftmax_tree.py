"""Hierarchical softmax's trees (torch_ext.hsoftmax_tree), its plain-PyTorch reference (torch_ext.testing.reference)
and its layer (torch_ext.nn.HierarchicalSoftmax, whose tests need the C++ ops)."""

import dataclasses
import heapq
import math
import pickle

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from torch_ext import hsoftmax_tree
from torch_ext.hsoftmax_tree import MAX_DEPTH, Tree, balanced, from_paths, huffman
from torch_ext.testing.reference import hsoftmax_log_prob_reference, hsoftmax_nll_reference


def word2vec_create_binary_tree(cn):
    """word2vec.c's CreateBinaryTree (github.com/tmikolov/word2vec, commit 20c129a), transcribed line by line with
    its array names: the vocabulary's counts cn (sorted by count, descending), and per word its codelen, code
    and point as word2vec stores them (point[0] is the root, vocab_size - 2; point[codelen] the leaf's negative
    id, which training never reads)."""
    vocab_size = len(cn)
    count = [0] * (vocab_size * 2 + 1)
    binary = [0] * (vocab_size * 2 + 1)
    parent_node = [0] * (vocab_size * 2 + 1)
    for a in range(vocab_size):
        count[a] = cn[a]
    for a in range(vocab_size, vocab_size * 2):
        count[a] = 1e15
    pos1 = vocab_size - 1
    pos2 = vocab_size
    for a in range(vocab_size - 1):
        if pos1 >= 0:
            if count[pos1] < count[pos2]:
                min1i = pos1
                pos1 -= 1
            else:
                min1i = pos2
                pos2 += 1
        else:
            min1i = pos2
            pos2 += 1
        if pos1 >= 0:
            if count[pos1] < count[pos2]:
                min2i = pos1
                pos1 -= 1
            else:
                min2i = pos2
                pos2 += 1
        else:
            min2i = pos2
            pos2 += 1
        count[vocab_size + a] = count[min1i] + count[min2i]
        parent_node[min1i] = vocab_size + a
        parent_node[min2i] = vocab_size + a
        binary[min2i] = 1
    vocab = []
    for a in range(vocab_size):
        code, point = [0] * MAX_DEPTH, [0] * MAX_DEPTH
        b = a
        i = 0
        while True:
            code[i] = binary[b]
            point[i] = b
            i += 1
            b = parent_node[b]
            if b == vocab_size * 2 - 2:
                break
        word_code, word_point = [0] * i, [0] * (i + 1)
        word_point[0] = vocab_size - 2
        for b in range(i):
            word_code[i - b - 1] = code[b]
            word_point[i - b] = point[b] - vocab_size
        vocab.append({"codelen": i, "code": word_code, "point": word_point})
    return vocab


def huffman_cost(counts):
    """The minimum of sum(count * depth) over binary trees: the sum of every merge of the two smallest weights."""
    heap = list(counts)
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        cost += merged
        heapq.heappush(heap, merged)
    return cost


def paths_of(tree):
    """The tree's paths as from_paths takes them: per class, [(node, code), ...] root first."""
    return [[(int(tree.path_nodes[c, j]), int(tree.path_codes[c, j])) for j in range(int(tree.path_len[c]))]
            for c in range(tree.n_classes)]


def check_tree(tree):
    """Every class's path is a root-to-leaf path of one full binary tree over C leaves with C - 1 inner nodes:
    dtypes, padding, one root, each node at one code prefix, prefix-free codes, Kraft equality."""
    n_classes = tree.n_classes
    assert tree.path_nodes.dtype == torch.int32 and tree.path_codes.dtype == torch.int8
    assert tree.path_len.dtype == torch.int32
    assert tree.path_nodes.device.type == "cpu"
    assert tree.depth == int(tree.path_len.max()) and int(tree.path_len.min()) >= 1
    pad = torch.arange(tree.depth) >= tree.path_len[:, None]
    assert (tree.path_nodes[pad] == 0).all() and (tree.path_codes[pad] == 0).all(), "padding must be node 0, code 0"
    assert ((tree.path_nodes >= 0) & (tree.path_nodes <= n_classes - 2)).all()
    assert set(tree.path_codes.unique().tolist()) <= {0, 1}
    paths = paths_of(tree)
    assert len({path[0][0] for path in paths}) == 1, "one root"
    prefix_of_node = {}
    for path in paths:
        codes = ()
        for node, code in path:
            assert prefix_of_node.setdefault(node, codes) == codes, "a node reached by two code prefixes"
            codes += (code,)
    assert sorted(prefix_of_node) == list(range(n_classes - 1)), "every inner node id used once"
    words = sorted("".join(str(code) for _, code in path) for path in paths)
    for shorter, longer in zip(words, words[1:]):  # in sorted order a prefix sits right before its extensions
        assert not longer.startswith(shorter), f"{shorter!r} is a prefix of {longer!r}"
    kraft = sum(2.0 ** -int(n) for n in tree.path_len)
    assert kraft == 1.0, "Kraft equality: a full tree's leaf probabilities sum to 1"


def assert_word2vec_tree(tree, cn):
    """The tree is word2vec's over counts cn sorted descending: codes, nodes (point - vocab_size), lengths."""
    for a, word in enumerate(word2vec_create_binary_tree(cn)):
        n = word["codelen"]
        assert int(tree.path_len[a]) == n, a
        assert tree.path_codes[a, :n].tolist() == word["code"], a
        assert tree.path_nodes[a, :n].tolist() == word["point"][:n], a


def zipf_counts(n, total=10**7):
    return [max(1, round(total / (r + 1))) for r in range(n)]


SORTED_COUNTS = {
    "distinct": [5, 3, 2, 1],
    "ties": [4, 4, 2, 2, 1, 1],
    "ties_with_merges": [3, 2, 2, 1, 1, 1],
    "equal_7": [1] * 7,
    "equal_8": [5] * 8,
    "two_classes": [3, 1],
    "two_equal": [1, 1],
    "zeros": [3, 2, 0, 0],
    "all_zero": [0, 0, 0],
    "zipf_1000": zipf_counts(1000),
    "word_like": [1000, 800, 300, 300, 299, 50, 50, 50, 10, 9, 2, 1, 1],
}


class TestHuffman:
    @pytest.mark.parametrize("name", SORTED_COUNTS)
    def test_equals_word2vec(self, name):
        counts = SORTED_COUNTS[name]
        tree = huffman(counts)
        assert_word2vec_tree(tree, counts)
        check_tree(tree)
        assert int(tree.path_nodes[0, 0]) == len(counts) - 2, "word2vec's root is vocab_size - 2"

    @pytest.mark.parametrize("name", SORTED_COUNTS)
    def test_optimal(self, name):
        counts = SORTED_COUNTS[name]
        tree = huffman(counts)
        assert sum(c * int(n) for c, n in zip(counts, tree.path_len)) == huffman_cost(counts)

    @pytest.mark.parametrize("counts", [[1, 2, 3, 5], [2, 5, 2, 1, 5, 3], [1, 1, 2], [0, 7, 0, 7, 3],
                                        list(reversed(zipf_counts(300)))])
    def test_unsorted_is_word2vec_over_the_stable_descending_order(self, counts):
        tree = huffman(counts)
        order = sorted(range(len(counts)), key=lambda c: -counts[c])  # stable: ties keep the caller's order
        sorted_tree = Tree(tree.path_nodes[order], tree.path_codes[order], tree.path_len[order])
        assert_word2vec_tree(sorted_tree, [counts[c] for c in order])
        check_tree(tree)
        assert sum(c * int(n) for c, n in zip(counts, tree.path_len)) == huffman_cost(counts)

    def test_input_types(self):
        expected = huffman([5, 3, 2, 1])
        for counts in (torch.tensor([5, 3, 2, 1]), torch.tensor([5.0, 3.0, 2.0, 1.0]), (5, 3, 2, 1),
                       torch.tensor([5, 3, 2, 1], dtype=torch.int32), [0.5, 0.3, 0.2, 0.1]):
            tree = huffman(counts)
            for name in ("path_nodes", "path_codes", "path_len"):
                assert torch.equal(getattr(tree, name), getattr(expected, name)), (counts, name)

    def test_large_counts_exact(self):
        # Integer counts past float64's 2^53 and word2vec's 1e15 sentinel: summed exactly, still optimal.
        counts = [2**60, 2**60, 2**59 + 1, 2**59, 3, 1]
        tree = huffman(counts)
        check_tree(tree)
        assert sum(c * int(n) for c, n in zip(counts, tree.path_len)) == huffman_cost(counts)

    def test_max_depth(self):
        fibonacci = [1, 1]
        while len(fibonacci) < MAX_DEPTH + 2:
            fibonacci.append(fibonacci[-1] + fibonacci[-2])
        # Fibonacci counts make a caterpillar tree: C classes, depth C - 1.
        assert huffman(fibonacci[:MAX_DEPTH + 1]).depth == MAX_DEPTH
        with pytest.raises(ValueError, match=r"depth 41 exceeds max_depth=40"):
            huffman(fibonacci[:MAX_DEPTH + 2])
        with pytest.raises(ValueError, match=r"depth 5 exceeds max_depth=4"):
            huffman(fibonacci[:6], max_depth=4)
        assert huffman(fibonacci[:6], max_depth=5).depth == 5
        with pytest.raises(ValueError, match="max_depth"):
            huffman([1, 1], max_depth=0)

    @pytest.mark.parametrize("counts, message", [
        ([[1, 2], [3, 4]], "counts must be 1-D"),
        ([5], "counts must have at least 2 classes"),
        ([], "counts must have at least 2 classes"),
        ([1, -1, 2], "counts must be non-negative"),
        ([1.0, float("nan")], "counts must be finite"),
        ([1.0, float("inf")], "counts must be finite"),
        (torch.tensor([True, False]), "counts must be real numbers"),
    ])
    def test_errors(self, counts, message):
        with pytest.raises(ValueError, match=message):
            huffman(counts)

    @given(st.lists(st.integers(0, 10**6), min_size=2, max_size=80))
    def test_property(self, counts):
        tree = huffman(counts)
        check_tree(tree)
        assert sum(c * int(n) for c, n in zip(counts, tree.path_len)) == huffman_cost(counts)
        order = sorted(range(len(counts)), key=lambda c: -counts[c])
        sorted_tree = Tree(tree.path_nodes[order], tree.path_codes[order], tree.path_len[order])
        assert_word2vec_tree(sorted_tree, [counts[c] for c in order])


class TestBalanced:
    @pytest.mark.parametrize("n_classes", list(range(2, 40)) + [64, 65, 1000, 1024, 1025])
    def test_complete(self, n_classes):
        tree = balanced(n_classes)
        check_tree(tree)
        depth = math.ceil(math.log2(n_classes))
        assert tree.n_classes == n_classes and tree.depth == depth
        assert set(tree.path_len.tolist()) <= {depth - 1, depth}
        assert (tree.path_nodes[:, 0] == 0).all(), "the root is 0"
        # Left to right: the classes' code strings increase (as binary fractions).
        fractions = [sum(code * 2.0 ** -(j + 1) for j, (_, code) in enumerate(path)) for path in paths_of(tree)]
        assert fractions == sorted(fractions) and len(set(fractions)) == n_classes

    def test_heap_numbering(self):
        tree = balanced(5)
        for path in paths_of(tree):
            for (node, code), (child, _) in zip(path, path[1:]):
                assert child == 2 * node + 1 + code

    @pytest.mark.parametrize("n_classes, message", [(1, "must be at least 2, got 1"), (0, "must be at least 2"),
                                                    (-3, "must be at least 2"), (2.5, "must be an int, got float"),
                                                    ("4", "must be an int, got str")])
    def test_errors(self, n_classes, message):
        with pytest.raises(ValueError, match=f"n_classes {message}"):
            balanced(n_classes)

    def test_index_like(self):
        assert balanced(torch.tensor(6)).n_classes == 6


class TestFromPaths:
    def test_round_trip(self):
        for tree in (huffman(zipf_counts(50)), balanced(11), huffman([1, 1])):
            again = from_paths(paths_of(tree))
            for name in ("path_nodes", "path_codes", "path_len"):
                assert torch.equal(getattr(again, name), getattr(tree, name))

    def test_any_numbering(self):
        # Node ids need not follow word2vec's or the heap's numbering, and a tensor works as a pair.
        tree = from_paths([[(1, 1)], [(1, 0), (0, 1)], [torch.tensor([1, 0]), (0, 0)]])
        check_tree(tree)
        assert tree.path_len.tolist() == [1, 2, 2]

    @pytest.mark.parametrize("paths, message", [
        ([[(0, 0)]], r"paths must have at least 2 classes"),
        ([], r"paths must have at least 2 classes"),
        (5, r"paths must be a sequence of paths"),
        ([[(0, 0)], []], r"paths\[1\] is empty; expected a non-empty sequence"),
        ([[(0, 0)], [(0,)]], r"paths\[1\]\[0\] is \(0,\); expected a \(node, code\) pair of ints"),
        ([[(0, 0)], [(0.0, 1)]], r"paths\[1\]\[0\] is \(0.0, 1\); expected a \(node, code\) pair of ints"),
        ([[(0, 0)], [(1, 1)]], r"paths\[1\]\[0\] has node 1; expected an inner node id in \[0, 0\]"),
        ([[(0, 0)], [(-1, 1)]], r"paths\[1\]\[0\] has node -1; expected an inner node id"),
        ([[(0, 0)], [(0, 2)]], r"paths\[1\]\[0\] has code 2; expected 0 or 1"),
        ([[(0, 0)], [(0, 1)], [(1, 0), (0, 1)]], r"paths\[2\] starts at node 1; expected the root 0"),
        ([[(0, 0)], [(0, 0)]], r"paths\[1\] equals paths\[0\]"),
        ([[(0, 0)], [(0, 0), (1, 0)], [(0, 1)]], r"paths\[0\] is a prefix of paths\[1\]"),
        ([[(0, 0), (1, 0)], [(0, 0)], [(0, 1)]], r"paths\[1\] is a prefix of another path"),
        # Node 1 below code 0 and below code 1: two places in the tree.
        ([[(0, 0), (1, 0)], [(0, 0), (1, 1)], [(0, 1), (1, 0)], [(0, 1), (2, 1)]],
         r"paths\[2\]\[1\] reaches node 1 by codes \[1\] but another path reaches it by \[0\]"),
        # A node on its own path: a cycle.
        ([[(0, 0), (0, 1)], [(0, 1)], [(0, 0), (0, 0)]], r"reaches node 0 by codes \[0\] but another path reaches "
                                                          r"it by \[\]"),
        ([[(0, 0), (1, 0)], [(0, 0), (2, 1)], [(0, 1)], [(0, 0), (1, 1)]],
         r"paths\[1\]\[0\] goes from node 0 by code 0 to node 2, another path to node 1"),
        ([[(0, 0)], [(0, 1), (1, 0)], [(0, 1), (1, 1), (2, 0)], [(0, 1), (1, 1), (2, 1)], [(0, 1), (1, 1)]],
         r"paths\[4\] is a prefix of another path"),
        ([[(0, 0)], [(0, 1), (1, 0)], [(0, 0)]], r"paths\[2\] equals paths\[0\]"),
        ([[(0, 0)], [(0, 1), (1, 0)], [(0, 1), (1, 0)]], r"paths\[2\] equals paths\[1\]"),
    ])
    def test_errors(self, paths, message):
        with pytest.raises(ValueError, match=message):
            from_paths(paths)

    def test_too_deep(self):
        # A caterpillar of MAX_DEPTH + 2 classes: its deepest paths have MAX_DEPTH + 1 pairs.
        n_classes = MAX_DEPTH + 2
        paths = [[(j, 1) for j in range(c)] + [(c, 0)] for c in range(n_classes - 1)]
        paths.append([(j, 1) for j in range(n_classes - 1)])
        with pytest.raises(ValueError, match=rf"paths\[{n_classes - 2}\] has length {MAX_DEPTH + 1}; expected at "
                                             rf"most MAX_DEPTH={MAX_DEPTH}"):
            from_paths(paths)

    def test_max_depth_caterpillar(self):
        # MAX_DEPTH + 1 classes on a caterpillar: depth MAX_DEPTH, allowed.
        n_classes = MAX_DEPTH + 1
        paths = [[(j, 1) for j in range(c)] + [(c, 0)] for c in range(n_classes - 1)]
        paths.append([(j, 1) for j in range(n_classes - 1)])
        tree = from_paths(paths)
        check_tree(tree)
        assert tree.depth == MAX_DEPTH


def test_tree_is_frozen_and_checked():
    tree = balanced(4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tree.path_len = torch.ones(4, dtype=torch.int32)
    with pytest.raises(TypeError, match="path_nodes int32"):
        Tree(tree.path_nodes.long(), tree.path_codes, tree.path_len)
    with pytest.raises(ValueError, match="shape"):
        Tree(tree.path_nodes, tree.path_codes[:, :1], tree.path_len)
    assert pickle.loads(pickle.dumps(tree)).n_classes == 4
    assert hsoftmax_tree.MAX_DEPTH == 40


# The reference (plain PyTorch): the truth of the C++ ops' tests and the benchmark's baseline.

def loop_log_prob(input, weight, bias, tree):
    """Each class's log-probability by a Python loop over its path: an independent check of the reference."""
    out = torch.zeros(input.size(0), tree.n_classes, dtype=input.dtype)
    for c, path in enumerate(paths_of(tree)):
        for node, code in path:
            z = input @ weight[node] + (bias[node] if bias is not None else 0)
            out[:, c] += torch.nn.functional.logsigmoid(z if code == 0 else -z)
    return out


TREES = {
    "huffman_zipf": lambda: huffman(zipf_counts(37)),
    "huffman_ties": lambda: huffman([4, 4, 2, 2, 1, 1, 1]),
    "balanced_13": lambda: balanced(13),
    "balanced_2": lambda: balanced(2),
    "paths": lambda: from_paths([[(2, 1)], [(2, 0), (0, 0)], [(2, 0), (0, 1), (1, 0)], [(2, 0), (0, 1), (1, 1)]]),
}


def random_layer(tree, in_features=6, bias=True, dtype=torch.float64):
    weight = torch.randn(tree.n_classes - 1, in_features, dtype=dtype)
    return weight, (torch.randn(tree.n_classes - 1, dtype=dtype) if bias else None)


class TestReference:
    @pytest.mark.parametrize("tree_name", TREES)
    @pytest.mark.parametrize("bias", [True, False])
    def test_log_prob_is_a_distribution(self, tree_name, bias):
        tree = TREES[tree_name]()
        weight, b = random_layer(tree, bias=bias)
        input = 3 * torch.randn(9, 6, dtype=torch.float64)
        log_prob = hsoftmax_log_prob_reference(input, weight, b, tree.path_nodes, tree.path_codes, tree.path_len)
        assert log_prob.shape == (9, tree.n_classes) and log_prob.dtype == torch.float64
        torch.testing.assert_close(log_prob.exp().sum(-1), torch.ones(9, dtype=torch.float64), rtol=0, atol=1e-12)
        torch.testing.assert_close(log_prob, loop_log_prob(input, weight, b, tree))

    @pytest.mark.parametrize("tree_name", TREES)
    def test_nll_is_minus_log_prob_of_target(self, tree_name):
        tree = TREES[tree_name]()
        weight, b = random_layer(tree)
        input = torch.randn(20, 6, dtype=torch.float64)
        target = torch.randint(tree.n_classes, (20,))
        target[::4] = -100
        args = (weight, b, tree.path_nodes, tree.path_codes, tree.path_len)
        nll = hsoftmax_nll_reference(input, *args, target)
        log_prob = hsoftmax_log_prob_reference(input, *args)
        kept = target != -100
        torch.testing.assert_close(nll[kept], -log_prob[kept, target[kept]])
        assert (nll[~kept] == 0).all()
        # Another ignore_index: -100 is then an out-of-range class, so only use in-range targets with it.
        target = torch.randint(tree.n_classes, (20,))
        nll = hsoftmax_nll_reference(input, *args, target, ignore_index=1)
        torch.testing.assert_close(nll[target != 1], -log_prob[target != 1, target[target != 1]])
        assert (nll[target == 1] == 0).all()

    def test_ignored_rows_have_no_gradient(self):
        tree = huffman([5, 3, 2, 1])
        weight, b = random_layer(tree)
        input = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
        weight.requires_grad_()
        target = torch.tensor([0, -100, 3, -100])
        loss = hsoftmax_nll_reference(input, weight, b, tree.path_nodes, tree.path_codes, tree.path_len, target)
        loss.sum().backward()
        assert (input.grad[1] == 0).all() and (input.grad[3] == 0).all() and (input.grad[0] != 0).any()

    def test_gradcheck(self):
        tree = huffman([4, 4, 2, 2, 1, 1, 1])
        weight, b = random_layer(tree, in_features=3)
        input = torch.randn(5, 3, dtype=torch.float64)
        target = torch.tensor([0, 6, -100, 3, 6])
        paths = (tree.path_nodes, tree.path_codes, tree.path_len)
        for t in (input, weight, b):
            t.requires_grad_()
        assert torch.autograd.gradcheck(lambda x, w, bb: hsoftmax_nll_reference(x, w, bb, *paths, target),
                                        (input, weight, b))
        assert torch.autograd.gradcheck(lambda x, w, bb: hsoftmax_log_prob_reference(x, w, bb, *paths),
                                        (input, weight, b))

    def test_two_classes_is_logistic_regression(self):
        tree = balanced(2)
        weight, b = random_layer(tree)
        input = torch.randn(7, 6, dtype=torch.float64)
        z = input @ weight[0] + b[0]
        log_prob = hsoftmax_log_prob_reference(input, weight, b, tree.path_nodes, tree.path_codes, tree.path_len)
        # Class 0 has code 0 (sigma(z)), class 1 code 1 (sigma(-z)).
        torch.testing.assert_close(log_prob, torch.stack([torch.nn.functional.logsigmoid(z),
                                                          torch.nn.functional.logsigmoid(-z)], -1))

    def test_dtype_follows_input(self):
        tree = balanced(5)
        weight, b = random_layer(tree, dtype=torch.float32)
        input = torch.randn(3, 6)
        target = torch.tensor([0, 4, 2])
        args = (weight, b, tree.path_nodes, tree.path_codes, tree.path_len)
        assert hsoftmax_nll_reference(input, *args, target).dtype == torch.float32
        assert hsoftmax_log_prob_reference(input, *args).dtype == torch.float32


# The layer: needs the C++ ops (torch_ext::hsoftmax_nll and hsoftmax_log_prob).

HAS_OPS = hasattr(torch.ops.torch_ext, "hsoftmax_nll") and hasattr(torch.ops.torch_ext, "hsoftmax_log_prob")


@pytest.mark.skipif(not HAS_OPS, reason="needs the C++ ops torch_ext::hsoftmax_nll and hsoftmax_log_prob")
class TestModule:
    @staticmethod
    def make(n_classes=9, in_features=5, **kwargs):
        from torch_ext.nn import HierarchicalSoftmax
        kwargs.setdefault("tree", "huffman")
        if kwargs["tree"] == "huffman":
            kwargs.setdefault("counts", zipf_counts(n_classes, total=1000))
        kwargs.setdefault("dtype", torch.float64)
        return HierarchicalSoftmax(in_features, n_classes, **kwargs)

    @staticmethod
    def reference_nll(m, input, target):
        return hsoftmax_nll_reference(input, m.weight, m.bias, m.path_nodes, m.path_codes, m.path_len, target,
                                      m.ignore_index)

    def test_state_dict_and_repr(self):
        m = self.make()
        assert list(m.state_dict()) == ["weight", "bias", "path_nodes", "path_codes", "path_len"]
        assert m.weight.shape == (8, 5) and m.bias.shape == (8,)
        assert m.path_nodes.dtype == torch.int32 and m.path_codes.dtype == torch.int8
        depth = m.path_nodes.size(1)
        assert repr(m) == (f"HierarchicalSoftmax(in_features=5, n_classes=9, tree='huffman', depth={depth}, bias=True, "
                           "reduction='mean', ignore_index=-100)")
        no_bias = self.make(tree="balanced", bias=False)
        assert no_bias.bias is None
        assert list(no_bias.state_dict()) == ["weight", "path_nodes", "path_codes", "path_len"]
        assert "tree='balanced', depth=4, bias=False" in repr(no_bias)
        assert "tree='paths'" in repr(self.make(n_classes=3, tree=[[(0, 0)], [(0, 1), (1, 0)], [(0, 1), (1, 1)]]))
        # The buffers stay integer when the module changes dtype.
        m.float()
        assert m.weight.dtype == torch.float32 and m.path_nodes.dtype == torch.int32

    def test_init_like_linear(self):
        m = self.make(n_classes=200, in_features=16, dtype=torch.float32)
        bound = 1 / math.sqrt(16)
        assert m.weight.abs().max() <= bound and m.bias.abs().max() <= bound
        assert m.weight.std() > bound / 2

    def test_load_state_dict_of_another_tree(self):
        huffman_layer = self.make(n_classes=30)
        balanced_layer = self.make(n_classes=30, tree="balanced")
        assert huffman_layer.path_nodes.shape != balanced_layer.path_nodes.shape
        balanced_layer.load_state_dict(huffman_layer.state_dict())
        input = torch.randn(4, 5, dtype=torch.float64)
        torch.testing.assert_close(balanced_layer.log_prob(input), huffman_layer.log_prob(input))

    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    @pytest.mark.parametrize("tree", ["huffman", "balanced"])
    def test_forward_against_reference(self, reduction, tree):
        m = self.make(tree=tree, reduction=reduction, ignore_index=2)
        input = torch.randn(12, 5, dtype=torch.float64)
        target = torch.randint(9, (12,))
        target[:3] = 2
        output, loss = m(input, target)
        nll = self.reference_nll(m, input, target)
        torch.testing.assert_close(output, -nll)
        assert (output[target == 2] == 0).all()
        expected = {"none": nll, "sum": nll.sum(), "mean": nll.sum() / (target != 2).sum()}[reduction]
        torch.testing.assert_close(loss, expected)

    def test_mean_of_all_ignored_is_nan(self):
        m = self.make()
        output, loss = m(torch.randn(3, 5, dtype=torch.float64), torch.full((3,), -100))
        assert torch.isnan(loss) and (output == 0).all()

    def test_output_is_asm_output(self):
        m = self.make()
        result = m(torch.randn(3, 5, dtype=torch.float64), torch.tensor([0, 1, 2]))
        assert result._fields == ("output", "loss")
        assert type(result) is type(torch.nn.AdaptiveLogSoftmaxWithLoss(5, 9, [4])(
            torch.randn(3, 5), torch.tensor([0, 1, 2])))

    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    def test_unbatched(self, reduction):
        m = self.make(reduction=reduction)
        input = torch.randn(5, dtype=torch.float64)
        output, loss = m(input, torch.tensor(4))
        batched_output, batched_loss = m(input[None], torch.tensor([4]))
        assert output.shape == () and loss.shape == ()
        torch.testing.assert_close(output, batched_output[0])
        torch.testing.assert_close(loss, batched_loss.reshape(()))
        assert m.log_prob(input).shape == (9,) and m.predict(input).shape == ()
        assert m.predict(input, k=3).shape == (3,)

    @pytest.mark.parametrize("tree", ["huffman", "balanced"])
    def test_log_prob_and_predict_agree(self, tree):
        m = self.make(tree=tree)
        input = 2 * torch.randn(10, 5, dtype=torch.float64)
        log_prob = m.log_prob(input)
        torch.testing.assert_close(log_prob, hsoftmax_log_prob_reference(input, m.weight, m.bias, m.path_nodes,
                                                                         m.path_codes, m.path_len))
        torch.testing.assert_close(log_prob.exp().sum(-1), torch.ones(10, dtype=torch.float64))
        prediction = m.predict(input)
        assert prediction.dtype == torch.int64 and torch.equal(prediction, log_prob.argmax(-1))
        top = m.predict(input, k=4)
        assert top.shape == (10, 4) and torch.equal(top[:, 0], prediction)
        torch.testing.assert_close(log_prob.gather(1, top), log_prob.topk(4).values)
        target = torch.randint(9, (10,))
        torch.testing.assert_close(m(input, target).output, log_prob.gather(1, target[:, None]).squeeze(1))

    @pytest.mark.parametrize("bias", [True, False])
    def test_gradients_against_reference(self, bias):
        m = self.make(bias=bias, reduction="mean")
        input = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
        target = torch.randint(9, (8,))
        target[1] = -100
        params = [input] + list(m.parameters())
        grads = torch.autograd.grad(m(input, target).loss, params)
        expected_loss = self.reference_nll(m, input, target).sum() / 7
        expected = torch.autograd.grad(expected_loss, params)
        for got, want in zip(grads, expected):
            torch.testing.assert_close(got, want)

    def test_constructor_errors(self):
        from torch_ext.nn import HierarchicalSoftmax
        with pytest.raises(ValueError, match="tree='huffman' needs counts"):
            HierarchicalSoftmax(4, 5)
        with pytest.raises(ValueError, match=r"counts must have one count per class \(5\), got 4"):
            HierarchicalSoftmax(4, 5, counts=[4, 3, 2, 1])
        with pytest.raises(ValueError, match="counts is only used by tree='huffman'"):
            HierarchicalSoftmax(4, 5, tree="balanced", counts=[1] * 5)
        with pytest.raises(ValueError, match="tree must be 'huffman', 'balanced' or a sequence of paths"):
            HierarchicalSoftmax(4, 5, tree="random")
        with pytest.raises(ValueError, match=r"tree must have one path per class \(4\), got 3"):
            HierarchicalSoftmax(4, 4, tree=[[(0, 0)], [(0, 1), (1, 0)], [(0, 1), (1, 1)]])
        with pytest.raises(ValueError, match=r"paths\[1\] is empty"):
            HierarchicalSoftmax(4, 2, tree=[[(0, 0)], []])
        with pytest.raises(ValueError, match="reduction must be"):
            HierarchicalSoftmax(4, 5, tree="balanced", reduction="batchmean")
        with pytest.raises(ValueError, match="n_classes must be at least 2"):
            HierarchicalSoftmax(4, 1, tree="balanced")
        with pytest.raises(ValueError, match="in_features must be positive"):
            HierarchicalSoftmax(0, 5, tree="balanced")

    def test_call_errors(self):
        m = self.make()
        with pytest.raises(ValueError, match=r"input must be 1-D \(D\) or 2-D \(N, D\)"):
            m(torch.randn(2, 3, 5, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.long))
        with pytest.raises(ValueError, match="input must have in_features=5"):
            m(torch.randn(2, 4, dtype=torch.float64), torch.zeros(2, dtype=torch.long))
        with pytest.raises(ValueError, match=r"target must have shape \(N\) = \(2\)"):
            m(torch.randn(2, 5, dtype=torch.float64), torch.zeros(3, dtype=torch.long))
        with pytest.raises(ValueError, match=r"target must have shape \(\) for a 1-D input"):
            m(torch.randn(5, dtype=torch.float64), torch.zeros(1, dtype=torch.long))
        with pytest.raises(ValueError, match="target must hold class indices as int64"):
            m(torch.randn(2, 5, dtype=torch.float64), torch.zeros(2, dtype=torch.int32))
        with pytest.raises(ValueError, match=r"k must be in \[1, n_classes=9\]"):
            m.predict(torch.randn(2, 5, dtype=torch.float64), k=10)
        with pytest.raises(ValueError, match="input must have in_features=5"):
            m.log_prob(torch.randn(2, 6, dtype=torch.float64))
