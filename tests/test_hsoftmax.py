"""Hierarchical softmax's ops (torch_ext::hsoftmax_nll, its forward and backward ops, hsoftmax_log_prob): against the
plain-PyTorch reference on the same tree with float64 as the truth, gradients (gradcheck, gradgradcheck, forward-mode
AD, vmap), opcheck and the Meta kernels, the weight gradient's determinism, bad input, torch.compile and torch.export.
The trees themselves: tests/test_hsoftmax_tree.py."""

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import torch_ext
from common_utils import DEVICES, FLOAT_DTYPES, assert_bitwise_equal, tol
from torch_ext.testing import hsoftmax_db
from torch_ext.testing.hsoftmax_db import make_sample
from torch_ext.testing.reference import hsoftmax_log_prob_reference, hsoftmax_nll_reference

ops = torch.ops.torch_ext
TREES = ["huffman", "balanced"]


def _truth_bound(dtype, magnitude):
    # The terms are rounded scores of dot products over D elements and log-sigmoids of them: a few units of the
    # dtype's rounding of the magnitude of what is summed.
    return tol(dtype)["rtol"] * 8 * magnitude + tol(dtype)["atol"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_nll_and_log_prob_against_float64_truth(device, dtype, tree, bias):
    sample = make_sample(rows=40, dim=33, classes=23, tree=tree, bias=bias, ignored=3, dtype=dtype, device=device,
                         scale=4.0)
    truth_sample = sample.to(dtype=torch.float64)  # the same rounded operands
    truth = hsoftmax_nll_reference(*truth_sample.nll_args())
    ours = ops.hsoftmax_nll(*sample.nll_args())
    aten = hsoftmax_nll_reference(*sample.nll_args())
    assert ours.dtype == dtype and ours.shape == (40,)
    magnitude = truth.abs() + 1
    err_ours, err_aten = (ours.double() - truth).abs(), (aten.double() - truth).abs()
    assert bool((err_ours <= _truth_bound(dtype, magnitude)).all()), (err_ours.max(), err_aten.max())
    assert bool((ours[:3] == 0).all()), "ignored rows have no loss"
    truth_lp = hsoftmax_log_prob_reference(*truth_sample.log_prob_args())
    ours_lp = ops.hsoftmax_log_prob(*sample.log_prob_args())
    assert ours_lp.shape == (40, 23)
    assert bool(((ours_lp.double() - truth_lp).abs() <= _truth_bound(dtype, truth_lp.abs() + 1)).all())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("tree", TREES)
def test_probabilities_sum_to_one_and_nll_is_minus_the_target_log_prob(device, tree):
    sample = make_sample(rows=30, dim=8, classes=37, tree=tree, ignored=0, device=device, scale=3.0)
    log_prob = ops.hsoftmax_log_prob(*sample.log_prob_args())
    torch.testing.assert_close(log_prob.exp().sum(-1), torch.ones(30, dtype=torch.float64, device=device),
                               rtol=0, atol=1e-12)
    nll = ops.hsoftmax_nll(*sample.nll_args())
    torch.testing.assert_close(nll, -log_prob.gather(1, sample.target.unsqueeze(1)).squeeze(1), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_gradients_match_the_reference(device, dtype, bias):
    sample = make_sample(rows=50, dim=17, classes=29, bias=bias, ignored=4, dtype=dtype, device=device, scale=3.0)
    g = torch.randn(50, dtype=dtype, generator=torch.Generator().manual_seed(1)).to(device)

    def grads(fn, s):
        s = s.map(lambda t: t.detach().requires_grad_())
        fn(*s.nll_args()).backward(g)
        return [s.input.grad, s.weight.grad] + ([s.bias.grad] if bias else [])

    for ours, ref in zip(grads(ops.hsoftmax_nll, sample), grads(hsoftmax_nll_reference, sample)):
        torch.testing.assert_close(ours, ref, **tol(dtype))


@pytest.mark.parametrize("tree", TREES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_gradcheck_gradgradcheck_and_forward_ad(tree, bias):
    sample = make_sample(rows=5, dim=4, classes=6, tree=tree, bias=bias, ignored=1, scale=2.0)
    leaves = sample.map(lambda t: t.detach().requires_grad_())
    floats = [leaves.input, leaves.weight] + ([leaves.bias] if bias else [])

    def nll(*tensors):
        s = hsoftmax_db.HsoftmaxSample(tensors[0], tensors[1], tensors[2] if bias else None, sample.tree,
                                       sample.target)
        return ops.hsoftmax_nll(*s.nll_args())

    def log_prob(*tensors):
        s = hsoftmax_db.HsoftmaxSample(tensors[0], tensors[1], tensors[2] if bias else None, sample.tree,
                                       sample.target)
        return ops.hsoftmax_log_prob(*s.log_prob_args())

    for fn in (nll, log_prob):
        assert gradcheck(fn, floats, check_forward_ad=True, check_batched_grad=True)
        assert gradgradcheck(fn, floats, check_batched_grad=True)


def test_backward_op_is_differentiable():
    # The backward op itself (its double backward and tangents go through the composite form).
    sample = make_sample(rows=4, dim=3, classes=5, ignored=1).map(lambda t: t.detach().requires_grad_())
    g = torch.randn(4, dtype=torch.float64, requires_grad=True)

    def backward(g, x, w, b):
        s = hsoftmax_db.HsoftmaxSample(x, w, b, sample.tree, sample.target)
        return ops.hsoftmax_nll_backward(*s.backward_args(g))

    assert gradcheck(backward, (g, sample.input, sample.weight, sample.bias), check_forward_ad=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_opcheck(device, bias):
    sample = make_sample(rows=7, dim=5, classes=9, bias=bias, ignored=2, device=device)
    g = torch.randn(7, dtype=torch.float64).to(device)
    grad_sample = sample.map(lambda t: t.detach().requires_grad_())
    torch.library.opcheck(ops.hsoftmax_nll.default, grad_sample.nll_args())
    torch.library.opcheck(ops.hsoftmax_log_prob.default, grad_sample.log_prob_args())
    torch.library.opcheck(ops.hsoftmax_nll_forward.default, sample.nll_args())
    torch.library.opcheck(ops.hsoftmax_nll_backward.default, sample.backward_args(g))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
def test_weight_gradient_is_the_same_for_any_thread_count(dtype):
    # Each node's gradient is summed over its rows in the rows' order: no dependence on the threads' split.
    sample = make_sample(rows=700, dim=67, classes=3000, ignored=5, dtype=dtype, scale=3.0)
    g = torch.randn(700, generator=torch.Generator().manual_seed(2)).to(dtype)
    threads = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            results.append(ops.hsoftmax_nll_backward(*sample.backward_args(g)))
    finally:
        torch.set_num_threads(threads)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert_bitwise_equal(a, b)
    # Rows of nodes no path reaches are zero (written, not left uninitialised).
    reached = torch.zeros(2999, dtype=torch.bool)
    tree = sample.tree
    for t in sample.target[sample.target >= 0].tolist():
        reached[tree.path_nodes[t, : tree.path_len[t]].long()] = True
    assert bool((results[0][1][~reached] == 0).all()) and bool((results[0][2][~reached] == 0).all())


@pytest.mark.parametrize("device", DEVICES)
def test_vmap_matches_a_loop(device):
    sample = make_sample(rows=6, dim=5, classes=7, ignored=1, device=device)
    xs = torch.randn(3, 6, 5, dtype=torch.float64).to(device)
    ws = torch.randn(3, 6, 5, dtype=torch.float64).to(device)
    nodes, codes, lens = sample.tree_args

    def nll(x, w):
        return ops.hsoftmax_nll(x, w, sample.bias, nodes, codes, lens, sample.target)

    torch.testing.assert_close(torch.vmap(nll, in_dims=(0, None))(xs, sample.weight),
                               torch.stack([nll(x, sample.weight) for x in xs]))
    torch.testing.assert_close(torch.vmap(nll)(xs, ws), torch.stack([nll(x, w) for x, w in zip(xs, ws)]))
    log_prob = torch.vmap(lambda x: ops.hsoftmax_log_prob(x, sample.weight, sample.bias, nodes, codes, lens))(xs)
    torch.testing.assert_close(log_prob, torch.stack([ops.hsoftmax_log_prob(x, sample.weight, sample.bias, nodes,
                                                                            codes, lens) for x in xs]))


def _bad_calls():
    s = make_sample(rows=4, dim=3, classes=5, ignored=0, dtype=torch.float32)
    nodes, codes, lens = s.tree_args
    x, w, b, t = s.input, s.weight, s.bias, s.target
    bad_nodes = nodes.clone()
    bad_nodes[t[0], 0] = 4
    bad_codes = codes.clone()
    bad_codes[t[0], 0] = 2
    bad_lens = lens.clone()
    bad_lens[t[0]] = nodes.shape[1] + 1
    return [
        ("target", (x, w, b, nodes, codes, lens, torch.tensor([0, 1, 5, 2]), -100),
         r"expected target\[2\] to be a class id in \[0, 5\)"),
        ("target_dtype", (x, w, b, nodes, codes, lens, t.int(), -100), r"expected target to be Long"),
        ("target_shape", (x, w, b, nodes, codes, lens, t[:3], -100), r"expected target to be \[N\] = \[4\]"),
        ("input_dim", (x[0], w, b, nodes, codes, lens, t, -100), r"expected input to be 2-D"),
        ("weight_shape", (x, w[:, :2], b, nodes, codes, lens, t, -100), r"expected weight to be \[n_classes - 1, "),
        ("weight_dtype", (x, w.double(), b, nodes, codes, lens, t, -100), r"weight"),
        ("bias_shape", (x, w, b[:2], nodes, codes, lens, t, -100), r"expected bias to be \[n_classes - 1\] = \[4\]"),
        ("path_nodes_dtype", (x, w, b, nodes.long(), codes, lens, t, -100), r"expected path_nodes to be Int"),
        ("path_nodes_shape", (x, w, b, nodes[:4], codes, lens, t, -100), r"expected path_nodes to be \[n_classes, "),
        ("path_codes_shape", (x, w, b, nodes, codes[:, :1], lens, t, -100), r"expected path_codes to have "),
        ("path_len_shape", (x, w, b, nodes, codes, lens[:4], t, -100), r"expected path_len to be \[n_classes\]"),
        ("node_out_of_range", (x, w, b, bad_nodes, codes, lens, t, -100), r"expected path_nodes\[.*an inner node"),
        ("code_not_binary", (x, w, b, nodes, bad_codes, lens, t, -100), r"expected path_codes\[.*to be 0 or 1"),
        ("len_out_of_range", (x, w, b, nodes, codes, bad_lens, t, -100), r"expected path_len\[.*to be in \[1, "),
    ]


@pytest.mark.parametrize("name, args, match", _bad_calls(), ids=[c[0] for c in _bad_calls()])
def test_bad_input_is_a_clear_error(name, args, match):
    with pytest.raises(RuntimeError, match=match):
        ops.hsoftmax_nll(*args)
    if name in ("weight_shape", "bias_shape", "path_nodes_dtype", "node_out_of_range", "code_not_binary"):
        with pytest.raises(RuntimeError, match=match.replace("target", "")):
            ops.hsoftmax_log_prob(*args[:6])


def test_log_prob_refuses_paths_that_are_not_a_tree():
    # Inner node 1 is the child (0, code 1) on class 1's path and a root on class 2's: no tree has both.
    nodes = torch.tensor([[0, 0], [0, 1], [1, 0]], dtype=torch.int32)
    codes = torch.tensor([[0, 0], [1, 0], [1, 0]], dtype=torch.int8)
    lens = torch.tensor([1, 2, 1], dtype=torch.int32)
    x, w = torch.randn(2, 3), torch.randn(2, 3)
    with pytest.raises(RuntimeError, match=r"expected the paths \(path_nodes, path_codes\) to form a tree: inner node 1"):
        ops.hsoftmax_log_prob(x, w, None, nodes, codes, lens)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_mixed_devices_are_refused():
    s = make_sample(rows=4, dim=3, classes=5, dtype=torch.float32)
    args = list(s.nll_args())
    args[1] = args[1].cuda()
    with pytest.raises(RuntimeError, match="weight"):
        ops.hsoftmax_nll(*args)


def test_layer_under_compile_fullgraph_and_export():
    torch.manual_seed(0)
    layer = torch_ext.nn.HierarchicalSoftmax(8, 11, tree="balanced")
    x, t = torch.randn(16, 8), torch.randint(0, 11, (16,))
    eager = layer(x, t)
    compiled = torch.compile(lambda x, t: layer(x, t).loss, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(x, t), eager.loss)
    x_grad = x.clone().requires_grad_()
    compiled(x_grad, t).backward()
    x_eager = x.clone().requires_grad_()
    layer(x_eager, t).loss.backward()
    torch.testing.assert_close(x_grad.grad, x_eager.grad)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.head = layer

        def forward(self, x, t):
            return self.head(x, t).output, self.head.log_prob(x)

    exported = torch.export.export(Model(), (x, t))
    for a, b in zip(exported.module()(x, t), Model()(x, t)):
        torch.testing.assert_close(a, b)
