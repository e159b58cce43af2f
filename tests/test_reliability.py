"""Reliability of every op under concurrency and over long runs (issue #8).

- Python threads: eight threads calling every op at once (every row of the op table, torch_ext.testing.op_db: its
  op through autograd and every registered op it covers, on its thread samples, large enough for the kernels'
  ``at::parallel_for``, and its small samples) give, bit for bit, what one thread gives.
- RReLU's generator: threads with their own generators seeded alike draw what a serial run draws; threads sharing
  the default generator draw, between them, exactly the slopes a serial run draws (each call takes its seed from the
  generator under its mutex), every one within [lower, upper] and consistent with output / input.
- ``torch.set_num_threads``: the per-op test files check their own ops (test_thread_count_independent); the
  cross-op test here adds what they leave out: the in-place forms of every op, autograd on every op (prelu's and
  rrelu eval's included), and softmax's ``dtype`` argument from float32, all in one grid.
- Memory: two million calls (every op, with and without autograd) leave the resident set flat (in a subprocess,
  so other tests' allocations do not count).
"""

import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

import torch_ext.functional as TF
from torch_ext.testing import OptOut, op_db
from common_utils import (
    FLOAT_DTYPES,
    assert_bitwise_equal,
    make_input,
    normal_values,
    same_layout_copy,
    values_with_specials,
)

ops = torch.ops.torch_ext
TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent

N_THREADS = 8
LOWER, UPPER = 0.1, 0.4


# --------------------------------------------------------------------------------------------------
# Inputs and the whole op surface, run once: every row of the op table (torch_ext.testing.op_db)
# --------------------------------------------------------------------------------------------------

def _grad(like, seed=1):
    return normal_values(like.shape, seed=seed).to(dtype=like.dtype).contiguous()


def _fwd_bwd(fn, x, g):
    """fn(leaf) and its gradient for g, through autograd."""
    xi = x.detach().requires_grad_()
    y = fn(xi)
    (gx,) = torch.autograd.grad(y, xi, g)
    return [y.detach(), gx]


# The small samples' layouts (one thread, a scalar tail): dense, and a view with a decreasing stride order broken.
SMALL_LAYOUTS = ("contiguous", "odd_1d", "transposed")


def _row_samples(row):
    """{name: SampleBuilder}: the row's thread samples, one per layout (large enough for the kernels'
    ``at::parallel_for``, special values mixed in; none for a row of another's kernels) and its small samples of SMALL_LAYOUTS (every dim and
    dtype argument of softmax's) and its small_sample."""
    out = {}
    if not isinstance(row.thread_samples, OptOut):
        # One argument tuple per layout (the argument grid is tests/test_ops.py::test_thread_count_independent's).
        for k, v in row.thread_samples.items():
            out.setdefault(f"threads:{k.split('-(')[0]}", v)
    out.update({f"small:{k}": v for k, v in row.samples.items()
                if k == row.small_sample or k.split("-")[0] in SMALL_LAYOUTS})
    return out


def make_inputs(dtype):
    """{name: (row, sample, grad_output)}: every input the op suite reads, from every row of the op table."""
    inputs = {}
    for row in op_db:
        for name, make in _row_samples(row).items():
            s = make(dtype, "cpu")
            g = None if row.random else _grad(row.op(s.input, *s.args, **s.kwargs))
            inputs[f"{row.name}[{name}]"] = (row, s, g)
    return inputs


def _flat(result):
    """The tensors of an op's result (a tensor, or a tuple of them)."""
    if isinstance(result, torch.Tensor):
        return [result]
    return [t for r in result for t in _flat(r)] if isinstance(result, (tuple, list)) else []


def _row_case(row, s, g):
    """The row's op through autograd (the gradient of every tensor input), and every registered op it covers, raw
    (op_calls: forward, backward, in place)."""

    def run():
        leafs = s.replace_tensors(lambda t: t.detach().requires_grad_())
        y = row.op(leafs.input, *leafs.args, **leafs.kwargs)
        outs = [y.detach(), *torch.autograd.grad(y, leafs.tensors, g)]
        for _, call in row.op_calls(s, g, lambda t: same_layout_copy(t)[0]):
            outs += _flat(call())
        return outs

    return run


def _random_case(row, s):
    """A random row (RReLU in training): an explicit generator, created and seeded in the call, so that any thread
    draws the same slopes; out of place through autograd, with the noise, and in place."""
    x, (lower, upper) = s.input, s.args

    def run():
        xi = x.detach().requires_grad_()
        y = ops.rrelu(xi, lower, upper, True, torch.Generator().manual_seed(5))
        (gx,) = torch.autograd.grad(y, xi, _grad(y))
        out, noise = ops.rrelu_with_noise(x, lower, upper, True, torch.Generator().manual_seed(6))
        z = same_layout_copy(x)[0] if torch._debug_has_internal_overlap(x) != 1 else x.clone()
        ops.rrelu_(z, lower, upper, True, torch.Generator().manual_seed(7))
        return [y.detach(), gx, out, noise, z]

    return run


def op_suite(inputs):
    """[(name, thunk)]: every row's ops (forward through autograd, and each registered op, in place included) on
    each of its inputs; each thunk returns tensors."""
    return [(name, _random_case(row, s) if row.random else _row_case(row, s, g))
            for name, (row, s, g) in inputs.items()]


def assert_all_bitwise_equal(actual, expected, context):
    assert len(actual) == len(expected), context
    for i, (a, e) in enumerate(zip(actual, expected)):
        assert_bitwise_equal(a, e, f"{context}, result {i}")


def run_threads(target, n=N_THREADS):
    """Runs target(index, barrier) in n threads started together; re-raises the first failure."""
    barrier = threading.Barrier(n)
    errors = []

    def body(i):
        try:
            target(i, barrier)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append((i, e))
            barrier.abort()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    real = [(i, e) for i, e in errors if not isinstance(e, threading.BrokenBarrierError)]
    if real:
        i, e = real[0]
        raise AssertionError(f"thread {i} failed: {e!r}") from e
    assert not errors, errors


# --------------------------------------------------------------------------------------------------
# Python threads
# --------------------------------------------------------------------------------------------------

class TestPythonThreads:
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    def test_concurrent_calls_match_serial(self, dtype):
        """Eight threads run the whole op suite at once, each in its own order (so different ops, and the same op,
        overlap), twice over; every result equals the single-threaded one bit for bit."""
        torch.set_num_threads(2)  # each call's own parallel_for as well as the Python threads
        cases = op_suite(make_inputs(dtype))
        serial = [fn() for _, fn in cases]
        results = [[] for _ in range(N_THREADS)]

        def worker(i, barrier):
            order = list(range(len(cases)))
            order = order[i * len(order) // N_THREADS:] + order[:i * len(order) // N_THREADS]
            barrier.wait()
            for _ in range(2):
                for k in order:
                    results[i].append((k, cases[k][1]()))

        run_threads(worker)
        for i, res in enumerate(results):
            assert len(res) == 2 * len(cases)
            for k, outs in res:
                assert_all_bitwise_equal(outs, serial[k], f"thread {i}, {cases[k][0]}")

    def test_own_generators_match_serial(self):
        """Threads each with a generator seeded alike draw the serial sequence, call after call (out of place,
        rrelu_with_noise, in place, and through autograd), while the other threads draw from theirs."""
        x = make_input("large", torch.float32, "cpu", values=values_with_specials(torch.float32))
        g = _grad(x)

        def sequence(gen):
            outs = []
            for _ in range(3):
                outs.append(ops.rrelu(x, LOWER, UPPER, True, gen))
                outs += list(ops.rrelu_with_noise(x, LOWER, UPPER, True, gen))
                z = x.clone()
                ops.rrelu_(z, LOWER, UPPER, True, gen)
                outs.append(z)
                outs += _fwd_bwd(lambda t: ops.rrelu(t, LOWER, UPPER, True, gen), x, g)
            return outs

        expected = sequence(torch.Generator().manual_seed(2024))
        # Successive calls draw new slopes (else the sequence would say nothing about the generator's state).
        assert not torch.equal(expected[0], expected[5])
        results = [None] * N_THREADS

        def worker(i, barrier):
            gen = torch.Generator().manual_seed(2024)
            barrier.wait()
            results[i] = sequence(gen)

        run_threads(worker)
        for i, outs in enumerate(results):
            assert_all_bitwise_equal(outs, expected, f"thread {i}")

    def test_shared_default_generator(self):
        """Threads sharing the default generator: no crash; each call's slopes lie in [lower, upper] and are
        output / input exactly (float32), the gradient of a training call is its noise; and the calls draw between
        them exactly the noises a serial run of as many calls from the same seed draws (each call takes one seed
        from the generator under its mutex, so only the order can differ)."""
        x = make_input("large", torch.float32, "cpu", values=values_with_specials(torch.float32))
        calls = 12  # per thread; even calls through rrelu_with_noise, odd ones through autograd

        def one_call(k):
            if k % 2 == 0:
                return ops.rrelu_with_noise(x, LOWER, UPPER, True)
            xi = x.detach().requires_grad_()
            y = TF.rrelu(xi, LOWER, UPPER, training=True)
            (noise,) = torch.autograd.grad(y, xi, torch.ones_like(y))
            return y.detach(), noise

        torch.manual_seed(77)
        serial = [one_call(k) for k in range(calls * N_THREADS)]
        torch.manual_seed(77)
        results = [[] for _ in range(N_THREADS)]

        def worker(i, barrier):
            barrier.wait()
            for k in range(calls):
                results[i].append(one_call(k))

        run_threads(worker)
        neg = x <= 0
        drawn = []
        for i, res in enumerate(results):
            for k, (out, noise) in enumerate(res):
                where = f"thread {i}, call {k}"
                assert bool((noise[x > 0] == 1).all()) and bool(torch.isnan(noise[torch.isnan(x)]).all()), where
                slopes = noise[neg]
                assert bool((slopes >= LOWER).all() & (slopes <= UPPER).all()), (where, slopes.min(), slopes.max())
                torch.testing.assert_close(out, torch.where(neg, x * noise, x), rtol=0, atol=0, equal_nan=True,
                                           msg=where)
                drawn.append(noise.numpy().tobytes())
        expected = [noise.numpy().tobytes() for _, noise in serial]
        assert len(set(expected)) == len(expected), "a serial run repeated a draw"
        assert sorted(drawn) == sorted(expected), (
            f"{len(set(drawn) - set(expected))} of {len(drawn)} concurrent draws are not among the serial ones"
        )


# --------------------------------------------------------------------------------------------------
# torch.set_num_threads, across every op
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_num_threads_independent_all_ops(dtype):
    """The whole op suite (in-place forms, autograd, prelu with one weight and per channel, rrelu eval and train
    with a generator, softmax's dtype argument) gives the same bits with 1, 2 and 3 intra-op threads."""
    cases = op_suite(make_inputs(dtype))
    results = {}
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        results[threads] = [fn() for _, fn in cases]
    for threads in (2, 3):
        for (name, _), a, b in zip(cases, results[1], results[threads]):
            assert_all_bitwise_equal(b, a, f"{name} with {threads} threads vs 1")


# --------------------------------------------------------------------------------------------------
# Memory: a million calls
# --------------------------------------------------------------------------------------------------

_MEMORY_SCRIPT = textwrap.dedent(
    r"""
    import gc, json, os, sys, time
    import torch
    import torch_ext
    import torch_ext.functional as TF

    torch.set_num_threads(1)
    ops = torch.ops.torch_ext
    PAGE = os.sysconf("SC_PAGE_SIZE")

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE

    # 256 elements: a tensor leaked per call would be over 1 KiB, far above what the allocator's pools round to.
    x = torch.randn(4, 8, 8)
    x64 = x.double()
    w = torch.linspace(-0.5, 1.5, 8)
    g = torch.randn(4, 8, 8)
    gen = torch.Generator().manual_seed(0)
    y = TF.elu(x)
    z = x.clone()

    # Calls without autograd: one op call each (an in-place call on z, which stays finite and small).
    plain = [
        lambda: ops.elu(x, 1.0), lambda: TF.celu(x, 2.0), lambda: TF.selu(x64),
        lambda: ops.elu_(z, 1.0), lambda: ops.elu_backward(g, 1.0, 1.0, 1.0, True, y),
        lambda: TF.softplus(x, 2.0, 1.0), lambda: ops.softplus_backward(g, x, 1.0, 20.0),
        lambda: TF.prelu(x, w), lambda: ops.prelu_backward(g, x, w),
        lambda: TF.rrelu(x), lambda: ops.rrelu(x, 0.1, 0.3, True), lambda: ops.rrelu(x, 0.1, 0.3, True, gen),
        lambda: ops.rrelu_with_noise(x, 0.1, 0.3, True), lambda: ops.rrelu_(z, 0.5, 0.5, True),
        lambda: ops.rrelu_backward(g, x, y, 0.1, 0.3, True, False),
        lambda: TF.softmax(x, -1), lambda: TF.log_softmax(x, 1, dtype=torch.float64),
        lambda: ops.softmax_backward(g, y, 1, torch.float32), lambda: ops.log_softmax_backward(g, y, 0, torch.float32),
    ]

    xg = x.clone().requires_grad_()
    wg = w.clone().requires_grad_()

    def grad(fn, *leaves):
        return lambda: torch.autograd.grad(fn(), leaves, g)

    # Autograd round trips: a forward that saves tensors for backward, then the backward op (two op calls each).
    with_grad = [
        grad(lambda: TF.elu(xg, 0.5), xg), grad(lambda: TF.celu(xg, 2.0), xg), grad(lambda: TF.selu(xg), xg),
        grad(lambda: TF.softplus(xg), xg), grad(lambda: TF.prelu(xg, wg), xg, wg),
        grad(lambda: TF.rrelu(xg), xg), grad(lambda: TF.rrelu(xg, training=True), xg),
        grad(lambda: TF.softmax(xg, -1), xg), grad(lambda: TF.log_softmax(xg, 0), xg),
        grad(lambda: TF.elu(xg * 1, 0.5), xg),  # a non-leaf input
    ]

    def run(rounds_plain, rounds_grad):
        for _ in range(rounds_plain):
            for f in plain:
                f()
        for _ in range(rounds_grad):
            for f in with_grad:
                f()
        with torch.no_grad():  # requires_grad inputs under no_grad: the calls skip autograd
            for _ in range(rounds_grad):
                TF.elu(xg); TF.rrelu(xg, training=True); TF.prelu(xg, wg); TF.softmax(xg, 0)

    rounds_plain, rounds_grad = int(sys.argv[1]), int(sys.argv[2])
    run(200, 200)  # warm up: caches, allocator pools, the autograd engine's threads
    gc.collect()
    start = rss()
    samples = []
    t0 = time.perf_counter()
    for part in range(4):
        run(rounds_plain // 4, rounds_grad // 4)
        gc.collect()
        samples.append(rss())
    elapsed = time.perf_counter() - t0
    calls = rounds_plain * len(plain) + rounds_grad * (2 * len(with_grad) + 4)
    print(json.dumps(dict(start=start, samples=samples, calls=calls, seconds=elapsed)))
    """
)


def test_million_calls_keep_rss_flat():
    """Two million op calls, after a warm-up, grow the resident set by less than 20 MB, measured four times along
    the way. 80,000 rounds of the 19 autograd-free calls (every op, its in-place form and its backward op;
    1,520,000 calls) and 20,000 rounds of 10 autograd round trips (a forward that saves tensors, then the backward
    op) and 4 calls of requires_grad inputs under no_grad (480,000 calls): ~20 s on one core. Each call of one
    kind is repeated 80,000 (20,000) times on 1 KiB tensors, so a tensor leaked by any one of them would be over
    110 MB (28 MB). Run in a subprocess: this process's earlier tests must not move the measure."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS_DIR)]), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, "80000", "20000"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["calls"] == 2_000_000, r
    mb = 1 << 20
    growth = [(s - r["start"]) / mb for s in r["samples"]]
    assert max(growth) < 20, f"resident set grew by {growth} MB over {r['calls']} calls ({r['seconds']:.1f} s)"
