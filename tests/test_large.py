"""Every op, forward and backward, on tensors of more than 2**31 elements (64-bit indexing), in float16 and
bfloat16 (~4 GiB a tensor): every row of the op table (torch_ext.testing.op_db) with its LargeInfo (the body that
runs it, its dtype and arguments).

Each test fills its input with a pattern of period PERIOD (a prime, so no two rows or slices along a softmax dim
read alike, and an index that wraps or goes negative reads other values; prelu's repeats every 333 rows, which
2**31 is no multiple of, so that its grad_weight has a float64 reference from one period) and checks the results at the
start, around element 2**31 and at the end against torch.nn.functional (or ATen's backward op) run on those
slices alone; the whole tensor is never recomputed by the reference.

Memory: a machine with 24 GiB, and pytest-xdist may run two workers. The tests take an exclusive lock on a file in
the system temp dir, so that one of them runs at a time across processes; each keeps at most two tensors of the
big size alive (peak ~8 GiB), frees them before the next step, and a failure is re-raised without the frames that
hold them. The backward ops get the input itself as grad_output (one tensor fewer).
"""

import fcntl
import gc
import os
import tempfile
import traceback

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import torch_ext.functional as TF
from torch_ext.testing import OptOut, op_db
from torch_ext.testing.op_db import LargeInfo
from common_utils import DEVICES, assert_close, normal_values, philox_blocks, philox_slopes_float32

ops = torch.ops.torch_ext
aten = torch.ops.aten

BIG = 2**31 + 4099  # elements of the element-wise tests' 1-D input
PERIOD = 1_000_003
WINDOW = 2048  # elements checked at each place
GiB = 1 << 30
NEEDED = 10 * GiB  # the peak of one test (two 4 GiB tensors), with some room


# --------------------------------------------------------------------------------------------------
# One test at a time, across processes; failures without the big tensors
# --------------------------------------------------------------------------------------------------

def _available_memory(device):
    if device == "cuda":
        return torch.cuda.mem_get_info()[0]
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


@pytest.fixture(autouse=True)
def _one_big_test_at_a_time():
    path = os.path.join(tempfile.gettempdir(), "torch_ext_test_large.lock")
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            gc.collect()
            yield
        finally:
            gc.collect()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            fcntl.flock(lock, fcntl.LOCK_UN)


def run_big(device, body, *args):
    """Runs body(device, *args) after checking for memory. A failure is reported as text, raised once body's frames
    (and the big tensors they hold) are gone: pytest keeps a failed test's traceback, and the next test's memory
    would be short."""
    free = _available_memory(device)
    if free < NEEDED:
        pytest.skip(f"needs {NEEDED / GiB:.0f} GiB of free {device} memory, {free / GiB:.1f} GiB available")
    failure = None
    try:
        body(device, *args)
    except Exception as e:  # noqa: BLE001 - re-raised below
        failure = "".join(traceback.format_exception(e))
    gc.collect()
    if failure is not None:
        pytest.fail(failure, pytrace=False)


# --------------------------------------------------------------------------------------------------
# Inputs and the places checked
# --------------------------------------------------------------------------------------------------

def periodic(numel, dtype, device, seed=0, std=3.0, period=PERIOD):
    """A 1-D tensor of numel elements: element i is block[i % period], block normal values of both signs."""
    block = (normal_values((period,), seed=seed) * std).to(device=device, dtype=dtype)
    x = torch.empty(numel, dtype=dtype, device=device)
    full = numel // period
    x[: full * period].view(full, period).copy_(block.expand(full, period))
    x[full * period:].copy_(block[: numel - full * period])
    return x


def windows(numel, k=WINDOW):
    """(start, stop) of the flat elements checked: the first, those around 2**31, the last."""
    assert numel >= 2**31 + k // 2
    return [(0, k), (2**31 - k // 2, 2**31 + k // 2), (numel - k, numel)]


def check_windows(actual, expected_fn, x, what, **kw):
    """actual (flat, like x) against expected_fn(slices of x) at each window; kw: assert_close's options."""
    for a, b in windows(x.numel()):
        assert_close(actual[a:b], expected_fn(x[a:b]), msg=lambda m: f"{what}, elements [{a}, {b}): {m}", **kw)


# --------------------------------------------------------------------------------------------------
# The rows (torch_ext.testing.op_db), each run by the body its LargeInfo names
# --------------------------------------------------------------------------------------------------

LOWER, UPPER = 0.1, 0.3  # rrelu in training


def _rows(kind):
    return [pytest.param(row, id=f"{row.name}-{str(row.large.dtype)[6:]}") for row in op_db
            if isinstance(row.large, LargeInfo) and row.large.kind == kind]


def test_every_row_has_a_body():
    # A row's LargeInfo names a body of this file (or the row opts out with a reason): none is left out unseen.
    for row in op_db:
        assert isinstance(row.large, OptOut) or row.large.kind in BODIES, (row.name, row.large)


# --------------------------------------------------------------------------------------------------
# Element-wise ops: forward, backward op and in place
# --------------------------------------------------------------------------------------------------

def _elementwise_body(device, row):
    info = row.large
    args, dtype, name = info.args, info.dtype, row.name
    ref = info.ref or row.ref
    bwd, bwd_ref = info.backward or row.bench_backward
    x = periodic(BIG, dtype, device)
    y = row.op(x, *args)
    assert y.shape == x.shape and y.dtype == dtype
    check_windows(y, lambda s: ref(s, *args), x, f"{name} forward")
    del y
    gx = bwd(x, x, x, *args)  # grad_output, input and result = x (the backward reads x or the result, not both)
    check_windows(gx, lambda s: bwd_ref(s, s, s, *args), x, f"{name} backward")
    del gx
    if row.inplace is not None:
        before = [x[a:b].clone() for a, b in windows(BIG)]
        row.inplace(x, *args)
        for (a, b), s in zip(windows(BIG), before):
            assert_close(x[a:b], ref(s, *args), msg=lambda m: f"{name} in place, elements [{a}, {b}): {m}")
    del x


@pytest.mark.parametrize("row", _rows("elementwise"))
@pytest.mark.parametrize("device", DEVICES)
def test_elementwise(device, row):
    run_big(device, _elementwise_body, row)


# --------------------------------------------------------------------------------------------------
# rrelu in training: the slopes are Philox draws keyed by the element's index
# --------------------------------------------------------------------------------------------------

def philox_slopes_at(seed, offset, index, lower, upper):
    """The float32 slopes the kernels draw for the elements at `index` (an array of flat memory positions): lane
    index % 4 of Philox4x32-10 block index / 4 of the stream (seed, offset), as test_rrelu checks bit for bit on
    small tensors."""
    index = np.asarray(index, dtype=np.uint64)
    lanes = philox_blocks(seed, offset, index // np.uint64(4))
    bits = lanes[np.arange(index.size), (index % np.uint64(4)).astype(np.int64)]
    return torch.from_numpy(philox_slopes_float32(bits, lower, upper))


def philox_key(device, seed):
    """(seed, offset) of the Philox stream a call with a generator seeded `seed` uses. CPU: the generator's next
    random64(), offset 0; CUDA: the generator's seed and current offset."""
    if device == "cpu":
        g = torch.Generator().manual_seed(seed)
        v = torch.empty((), dtype=torch.int64).random_(-(2**63), None, generator=g).item()
        return v & (2**64 - 1), 0
    g = torch.Generator(device=device).manual_seed(seed)
    return g.initial_seed(), g.get_offset()


def _rrelu_train_body(device, dtype):
    def gen():
        return torch.Generator(device=device).manual_seed(21)

    x = periodic(BIG, dtype, device)
    key_seed, offset = philox_key(device, 21)
    # The expected values at each window: the draws of these indices (float slopes; the noise holds them rounded to
    # the dtype, and the output is x * slope in float rounded once), 1 and x where x > 0.
    expected = []
    for a, b in windows(BIG):
        xs = x[a:b].cpu()
        slopes = philox_slopes_at(key_seed, offset, np.arange(a, b), LOWER, UPPER)
        neg = xs <= 0
        assert bool(neg.any() & (~neg).any())
        expected.append((torch.where(neg, (xs.float() * slopes).to(dtype), xs),
                         torch.where(neg, slopes.to(dtype), torch.ones((), dtype=dtype))))
    out = ops.rrelu(x, LOWER, UPPER, True, gen())
    assert out.shape == x.shape and out.dtype == dtype
    for (a, b), (e_out, _) in zip(windows(BIG), expected):
        torch.testing.assert_close(out[a:b].cpu(), e_out, rtol=0, atol=0, msg=lambda m: f"output, [{a}, {b}): {m}")
    del out
    # In place, with the noise (what autograd saves), from the same seed: the same slopes.
    noise = ops.rrelu_with_noise_(x, LOWER, UPPER, True, gen())
    assert noise.shape == x.shape and noise.dtype == dtype
    for (a, b), (e_out, e_noise) in zip(windows(BIG), expected):
        torch.testing.assert_close(x[a:b].cpu(), e_out, rtol=0, atol=0, msg=lambda m: f"in place, [{a}, {b}): {m}")
        torch.testing.assert_close(noise[a:b].cpu(), e_noise, rtol=0, atol=0, msg=lambda m: f"noise, [{a}, {b}): {m}")
    del x
    # Backward in training: grad * noise (self is not needed); the noise is the gradient too (one tensor fewer).
    gx = ops.rrelu_backward(noise, None, noise, LOWER, UPPER, True, False)
    for a, b in windows(BIG):
        ns = noise[a:b]
        torch.testing.assert_close(gx[a:b], aten.rrelu_with_noise_backward(ns, ns, ns, LOWER, UPPER, True, False),
                                   rtol=0, atol=0, msg=lambda m: f"backward, [{a}, {b}): {m}")
    del gx, noise


@pytest.mark.parametrize("row", _rows("rrelu_train"))
@pytest.mark.parametrize("device", DEVICES)
def test_rrelu_train(device, row):
    run_big(device, _rrelu_train_body, row.large.dtype)


# --------------------------------------------------------------------------------------------------
# prelu: one weight, and one per channel (grad_weight reduced over ~2**31 / C elements each)
# --------------------------------------------------------------------------------------------------

PRELU_C, PRELU_L = 3, 1001
PRELU_ROWS = 333  # the input repeats every 333 rows of C * L = 3003 elements (999,999), which 2**31 is no multiple of


def _prelu_body(device, dtype):
    # (bfloat16: the sums of grad_weight, ~3e10, are past float16's range)
    row = PRELU_C * PRELU_L
    n = 2**31 // row + 2
    x = periodic(n * row, dtype, device, period=PRELU_ROWS * row).view(n, PRELU_C, PRELU_L)
    # The rows checked: those holding the checked elements, whole (each slice keeps its channels).
    row_windows = [(a // row, (b + row - 1) // row) for a, b in windows(x.numel())]
    # grad_weight[c] = sum over channel c of g * x where x <= 0; with g = x, the sum of x**2 there. In float64 from
    # the repeating block: q whole blocks and the first r rows of one more.
    q, r = divmod(n, PRELU_ROWS)
    block = x[:PRELU_ROWS].double().cpu().clamp(max=0) ** 2
    channel_sums = q * block.sum(dim=(0, 2)) + block[:r].sum(dim=(0, 2))
    for weights in ("per_channel", "single"):
        w = torch.tensor([0.25, -0.5, 1.5], dtype=dtype, device=device)
        if weights == "single":
            w = w[1:2].clone()
        y = TF.prelu(x, w)
        assert y.shape == x.shape and y.stride() == x.stride()
        for r0, r1 in row_windows:
            assert_close(y[r0:r1], F.prelu(x[r0:r1], w), rtol=0, atol=0,
                         msg=lambda m: f"{weights} forward, rows [{r0}, {r1}): {m}")
        del y
        gx, gw = ops.prelu_backward(x, x, w)  # grad_output = x
        for r0, r1 in row_windows:
            xs = x[r0:r1].detach().requires_grad_()
            (expected,) = torch.autograd.grad(F.prelu(xs, w), xs, x[r0:r1])
            assert_close(gx[r0:r1], expected, rtol=0, atol=0,
                         msg=lambda m: f"{weights} grad_self, rows [{r0}, {r1}): {m}")
        del gx
        expected = channel_sums.sum(0, keepdim=True) if weights == "single" else channel_sums
        assert gw.shape == w.shape and gw.dtype == dtype
        # bfloat16's rounding of the sum, and a float accumulation's error over ~7e8 terms.
        torch.testing.assert_close(gw.double().cpu(), expected, rtol=2 * torch.finfo(dtype).eps, atol=0,
                                   msg=lambda m: f"{weights} grad_weight: {m}")
    del x


@pytest.mark.parametrize("row", _rows("prelu"))
@pytest.mark.parametrize("device", DEVICES)
def test_prelu(device, row):
    """One weight, and one per channel: grad_weight reduced over ~2**31 / C elements each."""
    run_big(device, _prelu_body, row.large.dtype)


# --------------------------------------------------------------------------------------------------
# softmax and log_softmax: over the last dim (more than 2**31 / row length rows) and over a middle dim
# --------------------------------------------------------------------------------------------------

ROW = 1031  # last-dim case: (2**31 // ROW + 2, ROW)
MIDDLE = (7, 4099)  # middle-dim case: (A, 7, 4099), dim 1


def _softmax_body(device, row, where):
    name, dtype = row.name, row.large.dtype
    bwd, bwd_ref = row.large.backward

    def fn(t, dim):
        return row.op(t, dim, None)

    def ref(t, dim):
        return row.ref(t, dim, None)

    if where == "last":
        rows = 2**31 // ROW + 2
        x = periodic(rows * ROW, dtype, device).view(rows, ROW)
        dim = -1

        def slices(t):  # the rows holding the checked elements, whole
            flat = t.numel()
            return [(f"rows [{a // ROW}, {(b - 1) // ROW + 1})", (slice(a // ROW, (b - 1) // ROW + 1),))
                    for a, b in windows(flat)]
        sub_dim = -1
    else:
        d, inner = MIDDLE
        outer = 2**31 // (d * inner) + 2
        x = periodic(outer * d * inner, dtype, device).view(outer, d, inner)
        dim = 1

        def slices(t):  # for each checked element: its outer index, all of dim 1, WINDOW inner positions near it
            out = []
            for a, _ in windows(t.numel()):
                o, i = a // (d * inner), a % inner
                i0 = min(i, inner - WINDOW)
                out.append((f"[{o}, :, {i0}:{i0 + WINDOW}]", (o, slice(None), slice(i0, i0 + WINDOW))))
            return out
        sub_dim = 0
    assert x.numel() > 2**31
    y = fn(x, dim)
    assert y.shape == x.shape and y.dtype == dtype
    for label, idx in slices(x):
        assert_close(y[idx], ref(x[idx], sub_dim), msg=lambda m: f"{name} forward, {label}: {m}")
    del x
    gx = bwd(y, y, dim, dtype)  # grad_output = the output
    for label, idx in slices(y):
        ys = y[idx]
        assert_close(gx[idx], bwd_ref(ys, ys, sub_dim, dtype), msg=lambda m: f"{name} backward, {label}: {m}")
    del gx, y


@pytest.mark.parametrize("where", ["last", "middle"])
@pytest.mark.parametrize("row", _rows("softmax"))
@pytest.mark.parametrize("device", DEVICES)
def test_softmax(device, row, where):
    run_big(device, _softmax_body, row, where)


BODIES = {"elementwise": _elementwise_body, "softmax": _softmax_body, "prelu": _prelu_body,
          "rrelu_train": _rrelu_train_body}
