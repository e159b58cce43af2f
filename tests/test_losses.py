"""The checks every loss shares, over the loss table (torch_ext.testing.loss_db): parity with torch.nn.functional and
with float64, gradients (gradcheck, gradgradcheck, forward-mode AD, vmap), opcheck and the Meta kernels, thread
counts, no ATen loss inside, the layer against torch.nn's, autocast, and the error messages. Then what is particular
to a loss: the seed's two-class identity (softmax cross-entropy on two logits is BCE-with-logits on their
difference)."""

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

import torch_ext.functional as TF
import torch_ext.nn as TN
from torch_ext.testing.loss_db import (REDUCTIONS, LossSample, loss_db, loss_db_by_name, optional_kwargs,
                                       rounding_bounds)
from common_utils import DEVICES, FLOAT_DTYPES, assert_bitwise_equal, assert_close, requires_cuda, run_with_cpu_isa

ops = torch.ops.torch_ext

# Rounding bound against float64 truth, in units of the dtype's eps times the terms' magnitudes: a fused pass
# rounds each term once in the op-math type and the result once in the dtype.
ULPS = 4


def _sample_params():
    return [pytest.param(row, name, id=f"{row.name}-{name}") for row in loss_db for name in row.samples]


def _loss(row, s: LossSample):
    return row.op(s.input, s.target, **s.kwargs)


def _as64(s: LossSample) -> LossSample:
    return s.to(torch.float64)


def _grad_output(y: torch.Tensor, seed: int = 3) -> torch.Tensor:
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return g.to(y.dtype).to(y.device)


def _forward_and_grads(fn, s: LossSample, g=None):
    """(loss, input gradient, target gradient or None for class indices, grad_output)."""
    x = s.input.detach().requires_grad_()
    t = s.target.detach().requires_grad_(s.target_is_differentiable)
    y = fn(x, t, **s.kwargs)
    g = _grad_output(y) if g is None else g
    grads = torch.autograd.grad(y, (x, t) if t.requires_grad else (x,), g)
    return y.detach(), grads[0], grads[1] if t.requires_grad else None, g


def _differentiable(s: LossSample):
    """The sample's differentiable tensors, as leaves requiring grad: the input, and a floating target."""
    x = s.input.detach().requires_grad_()
    return (x, s.target.detach().requires_grad_()) if s.target_is_differentiable else (x,)


def _mean_of_nothing(row, s: LossSample) -> bool:
    """A mean over no elements, or over rows that are all ignored: the loss is NaN (0 / 0), as ATen's."""
    s64 = s.to(torch.float64, "cpu")
    return s.reduction == "mean" and row.mean_denominator(s64.input, s64.target, s64.kwargs) == 0


def _constants_sample(row, reduction: str) -> str:
    return row.constants_sample.format(reduction=reduction)


# --------------------------------------------------------------------------------------------
# Parity: against torch.nn.functional in the same dtype, and against float64 truth
# --------------------------------------------------------------------------------------------

_OUTPUTS = ("loss", "grad input", "grad target")


def _assert_within(actual, expected, bound, name):
    """|actual - expected| <= bound elementwise, NaN where both are NaN (the mean of no elements)."""
    if bound is None:  # no such output (the gradient of class indices)
        assert actual is None and expected is None, name
        return
    a, b = actual.double().cpu(), expected.double().cpu()
    ok = ((a - b).abs() <= bound.cpu()) | (a.isnan() & b.isnan())
    assert bool(ok.all()), f"{name}: max difference {(a - b).abs().max().item()} over the bound"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("row,sample", _sample_params())
def test_parity_with_torch(row, sample, dtype, device):
    """Against torch in the same dtype: float32 and float64 at the table's tolerances; the reduced dtypes, where ATen
    rounds each of its several passes to the dtype and we round once, within the sum of both rounding bounds."""
    s = row.samples[sample](dtype, device)
    ours = _forward_and_grads(row.op, s)
    theirs = _forward_and_grads(row.ref, s, g=ours[3])
    bounds = rounding_bounds(row, s, ours[3], 2 * ULPS)
    for name, a, b, bound in zip(_OUTPUTS, ours[:3], theirs[:3], bounds):
        if bound is None:  # the gradient of class indices: none on either side
            assert a is None and b is None, name
            continue
        assert a.dtype == b.dtype and a.shape == b.shape and a.device == b.device, name
        if dtype in (torch.float32, torch.float64):
            assert_close(a, b, **row.tolerances[dtype], msg=lambda m, n=name: f"{n}: {m}")
        else:
            _assert_within(a, b, bound, name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("row,sample", _sample_params())
def test_accuracy_against_float64(row, sample, dtype, device):
    """Loss, input gradient and target gradient each within ULPS eps of float64 truth (torch in float64 on the same
    inputs), scaled by the magnitudes of its terms."""
    s = row.samples[sample](dtype, device)
    ours = _forward_and_grads(row.op, s)
    truth = _forward_and_grads(row.ref, _as64(s), g=ours[3].double())
    for name, a, b, bound in zip(_OUTPUTS, ours[:3], truth[:3], rounding_bounds(row, s, ours[3], ULPS)):
        _assert_within(a, b, bound, name)


# --------------------------------------------------------------------------------------------
# Gradients: gradcheck with forward and reverse mode, gradgradcheck, vmap
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row,sample", _sample_params())
def test_gradcheck(row, sample, device):
    s = row.samples[sample](torch.float64, device)
    if _mean_of_nothing(row, s):
        pytest.skip("the mean of no elements (or of ignored rows only) is NaN: gradcheck cannot compare NaN tangents (test_accuracy checks it)")
    inputs = _differentiable(s)

    def fn(x, t=s.target):
        return row.op(x, t, **s.kwargs)

    assert torch.autograd.gradcheck(fn, inputs, check_forward_ad=True, check_batched_grad=True,
                                    check_batched_forward_grad=True)
    assert torch.autograd.gradgradcheck(fn, inputs, check_batched_grad=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row,sample", _sample_params())
def test_gradient_ops_gradcheck(row, sample, device):
    """The registered gradient ops themselves, in grad_output, self and target: their double backward and their
    tangents (forward-mode AD through a gradient op, as torch.func.jacfwd of a gradient computes)."""
    s = row.samples[sample](torch.float64, device)
    if _mean_of_nothing(row, s):
        pytest.skip("the mean of no elements is NaN (see test_gradcheck)")
    g = _grad_output(row.op(s.input, s.target, **s.kwargs))
    for name, op, args in row.raw_calls(s, g):
        names = [a.name for a in op._schema.arguments]
        if "grad_output" not in names:
            continue
        differentiable = ("grad_output", "self", "target") if s.target_is_differentiable else ("grad_output", "self")
        wrt = [i for i, n in enumerate(names) if n in differentiable]

        def fn(*tensors, op=op, args=args, wrt=wrt):
            call = list(args)
            for i, t in zip(wrt, tensors):
                call[i] = t
            return op(*call)

        inputs = tuple(args[i].detach().requires_grad_() for i in wrt)
        assert torch.autograd.gradcheck(fn, inputs, check_forward_ad=True, check_batched_grad=True), name


@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in loss_db])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_vmap_and_jacfwd(row, reduction):
    s = row.samples[_constants_sample(row, reduction)](torch.float64, "cpu")
    xs = torch.stack([s.input, s.input * 0.5, -s.input])
    ts = row.batched_targets(s.target)
    kw = s.kwargs

    def ours(x, t):
        return row.op(x, t, **kw)

    def theirs(x, t):
        return row.ref(x, t, **kw)

    assert_close(torch.vmap(ours)(xs, ts), torch.vmap(theirs)(xs, ts))
    assert_close(torch.vmap(ours, in_dims=(0, None))(xs, s.target), torch.vmap(theirs, in_dims=(0, None))(xs, s.target))
    # A batched weight, one per sample.
    weights = torch.rand(3, *kw["weight"].shape, dtype=torch.float64) + 0.5
    kw_w = {k: v for k, v in kw.items() if k != "weight"}
    assert_close(torch.vmap(lambda x, t, w: row.op(x, t, weight=w, **kw_w))(xs, ts, weights),
                 torch.vmap(lambda x, t, w: row.ref(x, t, weight=w, **kw_w))(xs, ts, weights))
    argnums = (0, 1) if s.target_is_differentiable else (0,)
    jac = torch.func.jacfwd(ours, argnums=argnums)(s.input, s.target)
    ref_jac = torch.func.jacrev(theirs, argnums=argnums)(s.input, s.target)
    for a, b in zip(jac, ref_jac):
        assert_close(a, b)


@pytest.mark.parametrize("row,constant", [pytest.param(row, constant, id=f"{row.name}-{constant}")
                                          for row in loss_db for constant in row.constants])
def test_constants_are_not_differentiable(row, constant):
    s = row.samples[_constants_sample(row, "mean")](torch.float64, "cpu")
    kw = dict(s.kwargs)
    kw[constant] = kw[constant].clone().requires_grad_()
    with pytest.raises(RuntimeError, match=f"not differentiable with respect to argument '{constant}'"):
        row.op(s.input, s.target, **kw)
    with torch.no_grad():  # nothing is recorded: allowed, as in ATen
        assert_close(row.op(s.input, s.target, **kw), row.ref(s.input, s.target, **kw))
    with torch.autograd.forward_ad.dual_level():
        kw[constant] = torch.autograd.forward_ad.make_dual(kw[constant].detach(), torch.ones_like(kw[constant]))
        with pytest.raises(RuntimeError, match=f"expected {constant} to carry no tangent"):
            row.op(s.input, s.target, **kw)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in loss_db])
def test_grad_mode(row, device):
    s = row.samples[_constants_sample(row, "mean")](torch.float32, device)
    assert not _loss(row, s).requires_grad
    x = s.input.detach().requires_grad_()
    y = row.op(x, s.target, **s.kwargs)
    assert y.requires_grad and row.autograd_function in y.grad_fn.name(), y.grad_fn.name()
    with torch.no_grad():
        assert not row.op(x, s.target, **s.kwargs).requires_grad
    with torch.inference_mode():
        assert_close(row.op(s.input, s.target, **s.kwargs), row.ref(s.input, s.target, **s.kwargs))


# --------------------------------------------------------------------------------------------
# opcheck and the Meta kernels; thread counts; no ATen loss inside
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("row,sample", _sample_params())
def test_opcheck(row, sample):
    s = row.samples[sample](torch.float32, "cpu")
    if _mean_of_nothing(row, s):
        pytest.skip("the mean of no elements is NaN, which opcheck's output comparisons do not take as equal "
                    "(test_meta_matches_real and test_accuracy_against_float64 cover the sample)")
    g = _grad_output(row.op(s.input, s.target, **s.kwargs))
    for name, op, args in row.raw_calls(s, g):
        names = [a.name for a in op._schema.arguments]
        for requires_grad in (False, True) if name not in row.not_differentiable_ops else (False,):
            # Only the differentiable tensors require grad (the constants are refused: test_constants_...).
            call_args = tuple(a.detach().clone().requires_grad_(requires_grad and a.is_floating_point() and
                                                                n in ("self", "target", "grad_output"))
                              if isinstance(a, torch.Tensor) else a for n, a in zip(names, args))
            torch.library.opcheck(op, call_args)


@pytest.mark.parametrize("row,sample", _sample_params())
def test_meta_matches_real(row, sample):
    s = row.samples[sample](torch.float32, "cpu")
    g = _grad_output(row.op(s.input, s.target, **s.kwargs))

    def meta(a):
        return torch.empty_strided(a.shape, a.stride(), dtype=a.dtype, device="meta") if isinstance(
            a, torch.Tensor) else a

    for name, op, args in row.raw_calls(s, g):
        real = op(*args)
        fake = op(*[meta(a) for a in args])
        # An op of several outputs (cross_entropy_forward's loss, lse, total_weight): each.
        for i, (r, f) in enumerate(zip(*[(v,) if isinstance(v, torch.Tensor) else v for v in (real, fake)])):
            assert f.device.type == "meta"
            assert (f.shape, f.stride(), f.dtype) == (r.shape, r.stride(), r.dtype), (name, i)


def _large_sample_params():
    return [pytest.param(row, name, id=f"{row.name}-{name}") for row in loss_db for name in row.large_samples]


@pytest.mark.parametrize("row,large", _large_sample_params())
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_thread_count_independent(row, large, reduction):
    s = row.large_samples[large](reduction)
    results = {}
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        results[threads] = _forward_and_grads(row.op, s)[:3]
    for threads in (2, 3):
        for name, a, b in zip(_OUTPUTS, results[1], results[threads]):
            if a is not None or b is not None:
                assert_bitwise_equal(b, a, f"{row.name} {name} with {threads} threads vs 1")
    # And the large sample against float64, a sum over 2M elements.
    truth = _forward_and_grads(row.ref, _as64(s), g=results[1][0].new_ones(results[1][0].shape).double())
    ours = _forward_and_grads(row.op, s, g=results[1][0].new_ones(results[1][0].shape))
    for name, a, b, bound in zip(_OUTPUTS, ours[:3], truth[:3], rounding_bounds(row, s, ours[3], ULPS)):
        _assert_within(a, b, bound, name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in loss_db])
@pytest.mark.parametrize("large", ["first", "last"])
def test_does_not_call_aten(row, device, large):
    """The loss and its gradient (in the input, and in a floating target) on a large sample: the row's fused ops,
    none of the ATen ops they replace."""
    samples = list(row.large_samples.values())
    s = samples[0 if large == "first" else -1]("mean").to(device=device)
    inputs = _differentiable(s)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], acc_events=True) as prof:
        row.op(inputs[0], inputs[1] if len(inputs) > 1 else s.target, **s.kwargs).backward()
    names = {e.name for e in prof.events()}
    forbidden = row.forbidden_aten_ops | {f"aten::{row.name}"}
    assert not (names & forbidden), sorted(names & forbidden)
    assert {f"torch_ext::{op}" for op in row.ops} <= names, sorted(names)


_ISA_SCRIPT = """
import torch
import test_losses as T
for row in T.loss_db:
    for sample in row.samples:
        for dtype in (torch.float32, torch.float64, torch.float16, torch.bfloat16):
            T.test_parity_with_torch(row, sample, dtype, "cpu")
            T.test_accuracy_against_float64(row, sample, dtype, "cpu")
    for large in row.large_samples.values():
        for reduction in T.REDUCTIONS:
            s = large(reduction)
            ours = T._forward_and_grads(row.op, s)
            truth = T._forward_and_grads(row.ref, T._as64(s), g=ours[3].double())
            for name, a, b, bound in zip(T._OUTPUTS, ours[:3], truth[:3],
                                         T.rounding_bounds(row, s, ours[3], T.ULPS)):
                T._assert_within(a, b, bound, name)
print("OK")
"""


@pytest.mark.parametrize("isa", ["default", "avx2", "avx512"])
def test_cpu_isa_kernels(isa):
    """Each compiled CPU kernel (the other ISAs than this process's, in a subprocess): parity and accuracy on every
    sample, and the large ones (the one-pass sum)."""
    run_with_cpu_isa(isa, _ISA_SCRIPT)


# --------------------------------------------------------------------------------------------
# The layer: a drop-in for torch.nn's (repr, state_dict, copies, convert), under torch.compile
# --------------------------------------------------------------------------------------------

def _ctor_params():
    return [pytest.param(row, args, kwargs, id=f"{row.module.name}-{i}") for row in loss_db
            for i, (args, kwargs) in enumerate(row.module.ctor_args)]


@pytest.mark.parametrize("row,args,kwargs", _ctor_params())
def test_module_matches_torch(row, args, kwargs):
    ours, theirs = row.module.cls(*args, **kwargs), row.module.torch_cls(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for k, v in theirs.state_dict().items():
        assert_bitwise_equal(ours.state_dict()[k], v)
    assert dict(ours.named_buffers()).keys() == dict(theirs.named_buffers()).keys()
    inputs = row.module_inputs(kwargs)
    for x, t in inputs:
        assert_close(ours(x, t), theirs(x, t))
    for clone in (copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        assert type(clone) is type(ours) and repr(clone) == repr(ours)
        for x, t in inputs:
            assert_close(clone(x, t), theirs(x, t))
    # A torch.nn state_dict loads into ours, values included, and ours loads into torch.nn's.
    changed = {k: v * 2 for k, v in theirs.state_dict().items()}
    ours.load_state_dict(changed)
    for k, v in changed.items():
        assert_bitwise_equal(ours.state_dict()[k], v)
    theirs.load_state_dict(ours.state_dict())
    for x, t in inputs:
        assert_close(ours(x, t), theirs(x, t))


@pytest.mark.parametrize("row,args,kwargs", _ctor_params())
def test_convert_and_revert_keep_the_buffers(row, args, kwargs):
    model = torch.nn.ModuleDict({"loss": row.module.torch_cls(*args, **kwargs)}).train(False)
    before = dict(model["loss"].named_buffers())
    TN.convert(model)
    assert type(model["loss"]) is row.module.cls and not model["loss"].training
    for name, buf in model["loss"].named_buffers():
        assert buf is before[name]
    for name in row.module.constants:
        assert getattr(model["loss"], name) == getattr(row.module.torch_cls(*args, **kwargs), name)
    TN.revert(model)
    assert type(model["loss"]) is row.module.torch_cls
    for name, buf in model["loss"].named_buffers():
        assert buf is before[name]


@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in loss_db])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_compile_fullgraph(row, reduction):
    torch._dynamo.reset()
    s = row.samples[_constants_sample(row, reduction)](torch.float32, "cpu")
    layer = row.module.cls(reduction=reduction, **{k: s.kwargs[k] for k in row.constants})
    compiled = torch.compile(layer, fullgraph=True, backend="aot_eager")
    x = s.input.detach().requires_grad_()
    y = compiled(x, s.target)
    y.backward(torch.ones_like(y))
    x_ref = s.input.detach().requires_grad_()
    y_ref = row.module.torch_cls(reduction=reduction, **{k: s.kwargs[k] for k in row.constants})(x_ref, s.target)
    y_ref.backward(torch.ones_like(y_ref))
    assert_close(y, y_ref)
    assert_close(x.grad, x_ref.grad)


@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in loss_db])
def test_export(row):
    s = row.samples[_constants_sample(row, "mean")](torch.float32, "cpu")

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(5, 5)
            self.loss = row.module.cls(**{k: s.kwargs[k] for k in row.constants})

        def forward(self, x, t):
            return self.loss(self.linear(x), t)

    model = Model()
    ep = torch.export.export(model, (s.input, s.target))
    assert f"torch_ext.{row.forward_op}" in str(ep.graph)
    assert_close(ep.module()(s.input, s.target), model(s.input, s.target))


# --------------------------------------------------------------------------------------------
# Autocast: ATen's policy (its keys, its output dtypes)
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in loss_db])
def test_autocast_kernels_mirror_aten(row):
    def keys(op):
        dump = torch._C._dispatch_dump(op)
        return {k for k in ("AutocastCPU", "AutocastCUDA") if f"\n{k}: registered" in "\n" + dump}

    assert keys(f"aten::{row.autocast.twin}") == set(row.autocast.keys)
    assert keys(f"torch_ext::{row.forward_op}") == set(row.autocast.keys)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in loss_db])
def test_autocast_output_dtype(row, device):
    dtype = torch.bfloat16 if device == "cpu" else torch.float16
    s = row.samples[_constants_sample(row, "mean")](dtype, device)
    kw = optional_kwargs(s.kwargs, lambda v: v.float())  # float32 constants meet the reduced-precision logits
    with torch.autocast(device):
        ours = row.op(s.input, s.target, **kw)
        theirs = row.ref(s.input, s.target, **kw)
    assert ours.dtype == theirs.dtype
    assert_close(ours, theirs)


# --------------------------------------------------------------------------------------------
# Errors: each a clear message naming the argument
# --------------------------------------------------------------------------------------------

def _error_params():
    return [pytest.param(row, stmt, exc, msg, id=f"{row.name}-{i}") for row in loss_db
            for i, (stmt, exc, msg) in enumerate(row.errors)]


@pytest.mark.parametrize("row,stmt,exc,msg", _error_params())
def test_error_messages(row, stmt, exc, msg):
    scope = dict(torch=torch, ops=ops, TF=TF, x=torch.randn(4, 3), t=torch.rand(4, 3),
                 i=torch.ones(4, 3, dtype=torch.int64))
    with pytest.raises(exc, match=msg):
        exec(stmt, scope)


@requires_cuda
@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in loss_db])
def test_mixed_devices(row):
    s = row.samples[_constants_sample(row, "mean")](torch.float32, "cuda")
    with pytest.raises(RuntimeError, match="expected target to be on the device of self"):
        row.op(s.input, s.target.cpu(), **s.kwargs)
    with pytest.raises(RuntimeError, match="expected weight to be on the device of self"):
        row.op(s.input, s.target, **dict(s.kwargs, weight=s.kwargs["weight"].cpu()))


# --------------------------------------------------------------------------------------------
# The seed's question, "for two classes, sigmoid or softmax?": the same model
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_two_class_softmax_cross_entropy_is_bce_on_the_logit_difference(reduction, device):
    """softmax([z0, z1])[1] = sigmoid(z1 - z0), so cross-entropy over two classes with class y is
    BCE-with-logits on z1 - z0 with target y, and their gradients agree: d/dz1 = -d/dz0 = d/d(z1 - z0)."""
    g = torch.Generator().manual_seed(5)
    z = (torch.randn(64, 2, generator=g, dtype=torch.float64) * 4).to(device).requires_grad_()
    y = torch.randint(0, 2, (64,), generator=g).to(device)
    ce = F.cross_entropy(z, y, reduction=reduction)
    bce = TF.binary_cross_entropy_with_logits(z[:, 1] - z[:, 0], y.double(), reduction=reduction)
    assert_close(bce, ce)
    gout = torch.ones_like(ce)
    (g_ce,) = torch.autograd.grad(ce, z, gout)
    (g_bce,) = torch.autograd.grad(bce, z, gout)
    assert_close(g_bce, g_ce)
    assert_close(g_bce[:, 1], -g_bce[:, 0])


# --------------------------------------------------------------------------------------------
# binary_cross_entropy_with_logits: a reduced loss on the CPU in one pass
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample,one_pass", [("plain-mean", True), ("class_weights-mean", True),
                                             ("full_weights-sum", True), ("row_weights-mean", False),
                                             ("weight-mean", False)])
def test_bce_reduced_loss_memory_on_cpu(sample, one_pass):
    """With the input and target contiguous and the weights of the input's shape or repeating along its rows every
    64 elements or more, the CPU sums the losses as it computes them and allocates nothing of the input's size;
    otherwise (a weight broadcast inside, a short period) it allocates one buffer of losses."""
    row = loss_db_by_name["binary_cross_entropy_with_logits"]
    s = row.samples[sample](torch.float32, "cpu")
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True,
                                acc_events=True) as prof:
        _loss(row, s)
    allocated = sum(e.cpu_memory_usage for e in prof.events() if e.name.startswith("aten::") and
                    e.cpu_memory_usage > 0)
    buffer = s.input.numel() * s.input.element_size()
    if one_pass:
        assert allocated < min(buffer, 64), allocated
    else:
        assert allocated >= buffer, allocated


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("row,sample", [p for p in _sample_params() if not p.values[1].endswith("-none")])
def test_reduced_loss_does_not_depend_on_layout_on_cpu(row, sample, dtype):
    """A reduced loss on the CPU is the same sum of the same rounded per-element losses in the same order whether
    its operands are contiguous or not (the one-pass and the buffered reduction agree bit for bit)."""
    s = row.samples[sample](dtype, "cpu")
    strided = LossSample(torch.stack([s.input, s.input], -1).select(-1, 0), s.target, s.kwargs)
    assert s.input.numel() < 2 or not strided.input.is_contiguous()
    assert_bitwise_equal(_loss(row, strided), _loss(row, s))
