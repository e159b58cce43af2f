"""RReLU (rrelu, rrelu_ and the internal rrelu_with_noise[_] / rrelu_backward ops) against PyTorch, a float64
formula, the uniform law and a NumPy Philox4x32-10 reference of the in-kernel random slopes."""

import textwrap
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch._dynamo
import torch.nn as nn
import torch.nn.functional as F
from hypothesis import given, strategies as st

import torch_ext
import torch_ext.functional as TF
import torch_ext.nn as TN
from common_utils import (
    grad_output,
    GRADCHECK_LAYOUT_PARAMS,
    nonleaf_input,
    ALL_LAYOUTS,
    CUDA_AVAILABLE,
    DEVICES,
    DTYPE_NAMES,
    FLOAT_DTYPES,
    LARGE_LAYOUTS,
    REDUCED_DTYPES,
    WRITABLE_LAYOUTS,
    assert_bitwise_equal,
    assert_close,
    assert_close_off_nan,
    assert_same_zero_signs,
    philox_blocks,
    philox_slopes_float32,
    away_from_zero_values,
    make_input,
    normal_values,
    nan_at_nan_inputs,
    run_with_cpu_isa,
    requires_cuda,
    same_layout_copy,
    special_values,
    values_with_specials,
    draw_strided_layout,
    with_specials_every,
)
from stack_utils import GraphRecorder

ops = torch.ops.torch_ext

DEFAULT_LOWER, DEFAULT_UPPER = 1.0 / 8, 1.0 / 3
# (lower, upper): the defaults, a wide range, equal bounds, a negative range and one that straddles 0.
BOUNDS = [
    pytest.param((DEFAULT_LOWER, DEFAULT_UPPER), id="default"),
    pytest.param((0.05, 0.9), id="0.05_0.9"),
    pytest.param((0.2, 0.2), id="equal"),
    pytest.param((-0.6, -0.2), id="negative"),
    pytest.param((-0.25, 0.5), id="straddles0"),
]
NONNEG_BOUNDS = [p for p in BOUNDS if p.values[0][0] >= 0]
MODES = [pytest.param(False, id="eval"), pytest.param(True, id="train")]
APIS = ["functional", "module"]


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    yield
    torch._dynamo.reset()


# --------------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------------

def _opmath(dtype):
    return torch.float64 if dtype == torch.float64 else torch.float32


def _eval_slope(lower, upper):
    return (lower + upper) / 2


def bound_in_dtype(v: float, dtype: torch.dtype) -> float:
    """A bound as the kernels see it: cast to the op-math type, and a slope is then rounded to dtype."""
    return torch.tensor(v, dtype=_opmath(dtype)).to(dtype).double().item()


def train_reference(x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """y = x <= 0 ? x * noise : x in the op-math type, rounded once (the noise is exact in x's dtype)."""
    op = _opmath(x.dtype)
    xo, no = x.detach().to(op), noise.detach().to(op)
    return torch.where(xo <= 0, xo * no, xo).to(x.dtype)


def train_expected(x, noise, lower, upper, reseed):
    """The training output for x and its noise. float32 and float64: x * noise exactly (the noise is the slope).
    half and bfloat16: the slopes are float32's from the same seed (``reseed()`` re-seeds, and returns the generator
    to pass or None), the output is x * slope in float rounded once, and the noise that slope rounded."""
    x = x.detach()
    if x.dtype not in REDUCED_DTYPES:
        return train_reference(x, noise)
    x32 = torch.empty_like(x, dtype=torch.float32).copy_(x)
    _, noise32 = ops.rrelu_with_noise(x32, lower, upper, True, reseed())
    assert_exact(noise, noise32.to(x.dtype))
    return train_reference(x32, noise32).to(x.dtype)


def _manual_seed(seed):
    def reseed():
        torch.manual_seed(seed)
        return None

    return reseed


def check_noise_contract(x, noise, lower, upper):
    """noise: 1 where x > 0, NaN where x is NaN (dy/dx), a slope in [lower, upper] (rounded as the kernel rounds)
    where x <= 0."""
    assert noise.shape == x.shape and noise.dtype == x.dtype and noise.device == x.device
    neg = x.detach() <= 0
    assert bool((noise[x.detach() > 0] == 1).all()), "noise must be 1 where x > 0"
    assert bool(torch.isnan(noise[torch.isnan(x.detach())]).all()), "noise must be NaN where x is NaN"
    r = noise[neg].double()
    if r.numel():
        lo, hi = bound_in_dtype(lower, x.dtype), bound_in_dtype(upper, x.dtype)
        assert bool((r >= lo).all()) and bool((r <= hi).all()), (r.min().item(), r.max().item(), lo, hi)


def assert_exact(actual, expected, msg=""):
    """Equal values (NaN meets NaN) and equal signs of zero."""
    torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True, msg=msg or None)
    assert_same_zero_signs(actual, expected)


def ks_statistic(samples: np.ndarray, lower: float, upper: float) -> float:
    """Kolmogorov-Smirnov distance between the samples' empirical CDF and U[lower, upper]'s."""
    s = np.sort(samples.astype(np.float64))
    n = s.size
    cdf = np.clip((s - lower) / (upper - lower), 0.0, 1.0)
    return max((np.arange(1, n + 1) / n - cdf).max(), (cdf - np.arange(0, n) / n).max())


def memory_order(t: torch.Tensor) -> torch.Tensor:
    """The elements of a dense tensor in the order they sit in memory."""
    expected_stride = 1
    dims = sorted(range(t.dim()), key=lambda d: t.stride(d))
    for d in dims:  # innermost first: each stride is the product of the sizes inside it
        if t.size(d) != 1:
            assert t.stride(d) == expected_stride, (t.size(), t.stride())
        expected_stride *= t.size(d)
    return t.as_strided((t.numel(),), (1,), t.storage_offset())


def philox_bits(seed: int, offset: int, n: int) -> np.ndarray:
    """The first n 32-bit draws of the stream (seed, offset), element i from lane i % 4 of block i / 4."""
    return philox_blocks(seed, offset, np.arange((n + 3) // 4, dtype=np.uint64)).reshape(-1)[:n]


def philox_slopes_float64(bits: np.ndarray, lower: float, upper: float) -> np.ndarray:
    """float64 slopes: fma(bits * 2^-32, upper - lower, lower) rounded once (exact rationals), clamped to upper."""
    rng = Fraction(upper - lower)
    out = [min(float(Fraction(int(b), 2**32) * rng + Fraction(lower)), upper) for b in bits]
    return np.array(out, dtype=np.float64)


def cpu_seed_of(generator: torch.Generator) -> int:
    """The 64-bit Philox key the CPU kernels take from the generator: its next random64(), which random_ over the
    full int64 range returns as is. Advances the generator as the op would."""
    v = torch.empty((), dtype=torch.int64).random_(-(2**63), None, generator=generator).item()
    return v & (2**64 - 1)


def _negative_values(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return -(torch.rand(shape, dtype=torch.float64, generator=g) * 4 + 0.01)


def _run_inplace(api, x, lower, upper, training):
    if api == "functional":
        return TF.rrelu(x, lower, upper, training, inplace=True)
    m = TN.RReLU(lower, upper, inplace=True)
    m.train(training)
    return m(x)


def _torch_inplace(api, x, lower, upper, training):
    if api == "functional":
        return F.rrelu(x, lower, upper, training, inplace=True)
    m = nn.RReLU(lower, upper, inplace=True)
    m.train(training)
    return m(x)


def _generator(device, seed):
    return torch.Generator(device=device).manual_seed(seed)


def _rng_state(device):
    return torch.get_rng_state() if device == "cpu" else torch.cuda.get_rng_state()


class TestRRelu:
    # ------------------------------------------------------------------------------------------
    # Eval mode: leaky_relu with slope (lower + upper) / 2, against PyTorch, exactly
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("bounds", BOUNDS)
    @pytest.mark.parametrize("layout", ALL_LAYOUTS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_eval_forward_parity(self, device, dtype, layout, bounds):
        lower, upper = bounds
        x = make_input(layout, dtype, device, values=values_with_specials(dtype))
        x_before = x.clone()
        out = TF.rrelu(x, lower, upper)  # the functional default is eval, as in torch
        assert out.dtype == dtype and out.device == x.device and out.shape == x.shape
        assert_exact(out, F.rrelu(x, lower, upper, training=False))
        assert_exact(out, F.leaky_relu(x, _eval_slope(lower, upper)))
        assert_exact(ops.rrelu(x, lower, upper, False), out)
        # NB: ATen's rrelu allocates LEGACY_CONTIGUOUS; torch_ext keeps the input's memory format (empty_like).
        assert out.stride() == torch.empty_like(x).stride()
        if layout.startswith("channels_last"):
            fmt = torch.channels_last if layout == "channels_last" else torch.channels_last_3d
            assert out.is_contiguous(memory_format=fmt)
        assert_bitwise_equal(x, x_before)

    @pytest.mark.parametrize("bounds", BOUNDS)
    @pytest.mark.parametrize("layout", ALL_LAYOUTS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_eval_backward_parity(self, device, dtype, layout, bounds):
        lower, upper = bounds
        x = make_input(layout, dtype, device, values=values_with_specials(dtype), requires_grad=True)
        g = grad_output(x)
        out = TF.rrelu(x, lower, upper, False)
        assert out.requires_grad and out.grad_fn is not None
        (gx,) = torch.autograd.grad(out, x, g)
        (expected,) = torch.autograd.grad(F.leaky_relu(x, _eval_slope(lower, upper)), x, g)
        assert gx.dtype == dtype and gx.shape == x.shape
        assert_exact(gx, nan_at_nan_inputs(expected, x))
        (expected_rrelu,) = torch.autograd.grad(F.rrelu(x, lower, upper, False), x, g)
        assert_exact(gx, nan_at_nan_inputs(expected_rrelu, x))

    @pytest.mark.parametrize("bounds", BOUNDS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_eval_special_values(self, device, dtype, bounds):
        lower, upper = bounds
        x = special_values(dtype).to(device).requires_grad_()
        out = TF.rrelu(x, lower, upper)
        slope = _eval_slope(lower, upper)
        assert_exact(out, F.leaky_relu(x, slope))
        assert torch.isnan(out[2]) and out[3].item() == float("inf")
        (gx,) = torch.autograd.grad(out, x, torch.full_like(x, 0.75))
        # x == +-0 take the slope (leaky_relu_backward's `x > 0`), NaN gives NaN, +inf takes 1.
        op = _opmath(dtype)
        expected_slope = (torch.tensor(0.75, dtype=op) * torch.tensor(slope, dtype=op)).to(dtype).item()
        for i in (0, 1):
            assert gx[i].item() == expected_slope, (i, gx[i].item(), expected_slope)
        assert torch.isnan(gx[2])
        assert gx[3].item() == 0.75

    @pytest.mark.parametrize("device", DEVICES)
    def test_eval_draws_no_random_numbers(self, device):
        x = make_input("large", torch.float32, device, requires_grad=True)
        gen = _generator(device, 5)
        state, gen_state = _rng_state(device), gen.get_state()
        y = TF.rrelu(x, 0.1, 0.3)
        y.sum().backward()
        ops.rrelu(x.detach(), 0.1, 0.3, False, generator=gen)
        ops.rrelu_with_noise(x.detach(), 0.1, 0.3, False)
        TN.RReLU(0.1, 0.3).eval()(x.detach())
        z = x.detach().clone()
        TF.rrelu(z, 0.1, 0.3, inplace=True)
        assert torch.equal(_rng_state(device), state)
        assert torch.equal(gen.get_state(), gen_state)
        # ... while training advances them (the test can fail).
        TF.rrelu(x.detach(), 0.1, 0.3, True)
        ops.rrelu(x.detach(), 0.1, 0.3, True, generator=gen)
        assert not torch.equal(_rng_state(device), state)
        assert not torch.equal(gen.get_state(), gen_state)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_eval_noise_is_the_derivative(self, device, dtype):
        # rrelu_with_noise in eval: noise = 1 for x > 0, NaN for NaN, the slope elsewhere; no randomness.
        x = make_input("odd_1d", dtype, device, values=values_with_specials(dtype))
        out, noise = ops.rrelu_with_noise(x, 0.1, 0.3, False)
        slope = torch.tensor(0.2, dtype=_opmath(dtype)).to(dtype)
        expected = torch.where(x > 0, torch.ones_like(x), slope.to(device).expand_as(x))
        assert_exact(noise, nan_at_nan_inputs(expected, x))
        assert_exact(out, F.leaky_relu(x, 0.2))

    # ------------------------------------------------------------------------------------------
    # Training: the noise contract, the formula, the law of the slopes
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("bounds", BOUNDS)
    @pytest.mark.parametrize("layout", ALL_LAYOUTS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_train_forward_contract(self, device, dtype, layout, bounds):
        lower, upper = bounds
        x = make_input(layout, dtype, device, values=values_with_specials(dtype))
        x_before = x.clone()
        out, noise = ops.rrelu_with_noise(x, lower, upper, True, _generator(device, 11))
        assert out.shape == x.shape and out.dtype == dtype
        assert out.stride() == torch.empty_like(x).stride() and noise.stride() == out.stride()
        check_noise_contract(x, noise, lower, upper)
        # y = x * slope where x <= 0 (the slope the noise holds), x elsewhere (NaN stays NaN).
        assert_exact(out, train_expected(x, noise, lower, upper, lambda: _generator(device, 11)))
        pos = x > 0
        assert_exact(out[pos], x[pos])
        assert bool(torch.isnan(out[torch.isnan(x)]).all())
        assert_bitwise_equal(x, x_before)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_train_special_values(self, device, dtype):
        x = special_values(dtype).to(device)
        out, noise = ops.rrelu_with_noise(x, 0.1, 0.3, True)
        check_noise_contract(x, noise, 0.1, 0.3)
        # 0 and -0 take the random branch (ATen's `x <= 0`): output +-0, noise a slope, not 1.
        assert out[0].item() == 0 and not torch.signbit(out[0]).item()
        assert out[1].item() == 0 and torch.signbit(out[1]).item()
        assert noise[0].item() != 1 and noise[1].item() != 1
        # NaN: output NaN, noise NaN (ATen's is 1, the x > 0 branch); +inf passes; -inf times a slope stays -inf.
        assert torch.isnan(out[2]) and torch.isnan(noise[2])
        assert out[3].item() == float("inf") and noise[3].item() == 1
        assert out[4].item() == float("-inf") and noise[4].item() != 1

    @pytest.mark.parametrize("bounds", [pytest.param((DEFAULT_LOWER, DEFAULT_UPPER), id="default"),
                                        pytest.param((-0.7, 1.3), id="-0.7_1.3")])
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
    @pytest.mark.parametrize("device", DEVICES)
    def test_train_slopes_follow_uniform_law(self, device, dtype, bounds):
        lower, upper = bounds
        n = 1_000_003
        x = _negative_values((n,)).to(device=device, dtype=dtype)
        torch.manual_seed(2024)
        out = TF.rrelu(x, lower, upper, training=True)
        # y / x recovers the slopes (the noise path is checked exactly elsewhere): within [lower, upper] up to one
        # rounding of y.
        s = (out.double() / x.double()).cpu().numpy()
        eps = 4 * torch.finfo(dtype).eps * max(abs(lower), abs(upper))
        assert s.min() >= lower - eps and s.max() <= upper + eps, (s.min(), s.max())
        rng = upper - lower
        # Mean within 5 standard errors, quantiles within 3e-3 of the range (~6 standard errors), KS distance below
        # the 0.1% critical value 1.95 / sqrt(n).
        assert abs(s.mean() - (lower + upper) / 2) < 5 * rng / np.sqrt(12 * n), s.mean()
        assert abs(s.var() - rng**2 / 12) < 0.01 * rng**2 / 12, s.var()
        qs = np.array([0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999])
        np.testing.assert_allclose(np.quantile(s, qs), lower + qs * rng, rtol=0, atol=3e-3 * rng)
        assert ks_statistic(s, lower, upper) < 1.95 / np.sqrt(n)
        # Neighbours are independent: consecutive elements (lanes of one Philox block) and elements 4 apart (the
        # same lane of consecutive blocks) are uncorrelated.
        u = (s - lower) / rng - 0.5
        for lag in (1, 2, 4, 1024):
            corr = np.mean(u[:-lag] * u[lag:]) / np.var(u)
            assert abs(corr) < 5 / np.sqrt(n), (lag, corr)
        # Slopes are not few: each element draws its own (24 bits in float32, 32 in float64).
        assert np.unique(s).size > 0.9 * n

    def test_ks_statistic_rejects_a_wrong_law(self):
        # The KS bound above can fail: a half-range law, or a law with a bump, is far above it.
        g = np.random.default_rng(0)
        n = 1_000_000
        assert ks_statistic(g.uniform(0.1, 0.2, n), 0.1, 0.3) > 0.4
        assert ks_statistic(np.sqrt(g.uniform(0.01, 0.09, n)), 0.1, 0.3) > 0.02
        assert ks_statistic(g.uniform(0.1, 0.3, n), 0.1, 0.3) < 1.95 / np.sqrt(n)

    @pytest.mark.parametrize("device", DEVICES)
    def test_train_slopes_match_philox_reference(self, device):
        """The kernels' slopes are Philox4x32-10 keyed by (seed, offset, element index): bit for bit against NumPy.
        CPU: seed = the generator's next random64(), offset 0; CUDA: the generator's seed and philox offset."""
        n = 4099
        lower, upper = DEFAULT_LOWER, DEFAULT_UPPER
        x = _negative_values((n,), seed=1)
        if device == "cpu":
            seed, offset = cpu_seed_of(_generator("cpu", 77)), 0
            gen = _generator("cpu", 77)
        else:
            gen = _generator("cuda", 77)
            seed, offset = gen.initial_seed(), gen.get_offset()
        _, noise32 = ops.rrelu_with_noise(x.float().to(device), lower, upper, True, gen)
        bits = philox_bits(seed, offset, n)
        np.testing.assert_array_equal(noise32.cpu().numpy(), philox_slopes_float32(bits, lower, upper))
        if device == "cuda":
            assert gen.get_offset() == offset + 4  # one Philox block per group of four elements

        if device == "cpu":
            seed, gen = cpu_seed_of(_generator("cpu", 78)), _generator("cpu", 78)
        else:
            gen = _generator("cuda", 78)
            seed, offset = gen.initial_seed(), gen.get_offset()
        m = 515
        _, noise64 = ops.rrelu_with_noise(x[:m].to(device), lower, upper, True, gen)
        np.testing.assert_array_equal(noise64.cpu().numpy(), philox_slopes_float64(philox_bits(seed, offset, m),
                                                                                   lower, upper))

    @pytest.mark.parametrize("dtype", REDUCED_DTYPES, ids=["float16", "bfloat16"])
    @pytest.mark.parametrize("device", DEVICES)
    def test_train_reduced_dtypes_round_float_slopes(self, device, dtype):
        # Half and bfloat16 draw in float: the same seed gives float32's slopes, the output is x * slope computed
        # in float and rounded once, and the noise is the slope rounded to the dtype.
        x = _negative_values((3, 40009)).to(device)
        xr = x.to(dtype)
        _, noise32 = ops.rrelu_with_noise(x.float(), 0.1, 0.3, True, _generator(device, 9))
        out, noise = ops.rrelu_with_noise(xr, 0.1, 0.3, True, _generator(device, 9))
        assert_exact(noise, noise32.to(dtype))
        assert_exact(out, (xr.float() * noise32).to(dtype))
        check_noise_contract(xr, noise, 0.1, 0.3)
        # Still spread over the range (the mean of the slopes, within bfloat16's rounding).
        s = noise.double()
        assert abs(s.mean().item() - 0.2) < 3e-3 and s.std().item() > 0.05
        # float64 draws its own slopes from 32 bits; the same seed puts them within float rounding of float32's.
        _, noise64 = ops.rrelu_with_noise(x.double(), 0.1, 0.3, True, _generator(device, 9))
        torch.testing.assert_close(noise64, noise32.double(), rtol=0, atol=2e-7)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_train_reproducible_with_manual_seed(self, device, dtype):
        x = make_input("large", dtype, device)
        torch.manual_seed(123)
        a = TF.rrelu(x, training=True)
        b = TF.rrelu(x, training=True)  # successive calls draw new slopes
        torch.manual_seed(123)
        a2 = TF.rrelu(x, training=True)
        b2 = TF.rrelu(x, training=True)
        torch.manual_seed(124)
        c = TF.rrelu(x, training=True)
        assert_bitwise_equal(a2, a)
        assert_bitwise_equal(b2, b)
        neg = x < 0
        assert not torch.equal(a[neg], b[neg]), "successive calls must draw new slopes"
        assert not torch.equal(a[neg], c[neg]), "another seed must draw other slopes"
        # The module in train mode uses the same stream.
        torch.manual_seed(123)
        assert_bitwise_equal(TN.RReLU()(x), a)

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_train_reproducible_with_generator(self, device, dtype):
        x = make_input("large", dtype, device)
        state = _rng_state(device)
        gen = _generator(device, 31)
        a = ops.rrelu(x, 0.1, 0.3, True, generator=gen)
        b = ops.rrelu(x, 0.1, 0.3, True, generator=gen)
        gen.manual_seed(31)
        assert_bitwise_equal(ops.rrelu(x, 0.1, 0.3, True, gen), a)
        assert_bitwise_equal(ops.rrelu(x, 0.1, 0.3, True, gen), b)
        assert not torch.equal(a, b)
        # Another generator object with the same seed, and the in-place op and rrelu_with_noise, draw the same.
        y = x.clone()
        ops.rrelu_(y, 0.1, 0.3, True, _generator(device, 31))
        assert_bitwise_equal(y, a)
        out, _ = ops.rrelu_with_noise(x, 0.1, 0.3, True, _generator(device, 31))
        assert_bitwise_equal(out, a)
        # An explicit generator leaves the default one alone.
        assert torch.equal(_rng_state(device), state)
        # The default generator and an explicit one with the same seed agree.
        torch.manual_seed(31) if device == "cpu" else torch.cuda.manual_seed(31)
        assert_bitwise_equal(ops.rrelu(x, 0.1, 0.3, True), a)

    @pytest.mark.parametrize("layout", list(LARGE_LAYOUTS))
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    def test_train_thread_count_independent(self, dtype, layout):
        x = make_input(layout, dtype, "cpu", values=values_with_specials(dtype))
        g = grad_output(x)
        results = []
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            torch.manual_seed(99)
            xi = x.detach().requires_grad_()
            y = TF.rrelu(xi, 0.1, 0.4, training=True)
            (gx,) = torch.autograd.grad(y, xi, g)
            out, noise = ops.rrelu_with_noise(x, 0.1, 0.4, True, _generator("cpu", 5))
            z, _ = same_layout_copy(x)
            ops.rrelu_(z, 0.1, 0.4, True, _generator("cpu", 5))
            results.append([y.detach(), gx, out, noise, z, TF.rrelu(x, 0.1, 0.4)])
        names = ["forward", "backward", "rrelu_with_noise output", "noise", "in-place", "eval"]
        for other in results[1:]:
            for name, a, b in zip(names, results[0], other):
                assert_bitwise_equal(b, a, name)

    @pytest.mark.parametrize("layout", ["transposed", "channels_last", "channels_last_3d", "large"])
    @pytest.mark.parametrize("device", DEVICES)
    def test_train_slopes_keyed_by_memory_position(self, device, layout):
        # The i-th element in the output's memory (laid out as empty_like(x)) takes draw i: a dense input in any
        # layout draws, in memory order, what a 1-D tensor of its storage draws; a non-dense view draws what its
        # dense copy laid out by empty_like draws.
        x = make_input(layout, torch.float32, device)
        _, noise = ops.rrelu_with_noise(x, 0.1, 0.3, True, _generator(device, 3))
        _, flat_noise = ops.rrelu_with_noise(memory_order(x), 0.1, 0.3, True, _generator(device, 3))
        assert_bitwise_equal(memory_order(noise), flat_noise)
        xs = make_input("permuted_sliced", torch.float32, device)
        _, noise = ops.rrelu_with_noise(xs, 0.1, 0.3, True, _generator(device, 3))
        xs_dense = torch.empty_like(xs).copy_(xs)
        _, noise_c = ops.rrelu_with_noise(xs_dense, 0.1, 0.3, True, _generator(device, 3))
        assert noise.stride() == noise_c.stride() == xs_dense.stride()
        assert_bitwise_equal(noise, noise_c)

    # ------------------------------------------------------------------------------------------
    # Training: gradients are the sampled slopes
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("layout", ["contiguous", "scalar_0d", "odd_1d", "large", "transposed", "sliced_step2",
                                        "permuted_sliced", "channels_last", "expanded"])
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_train_gradient_equals_slope(self, device, dtype, layout):
        x = make_input(layout, dtype, device, values=values_with_specials(dtype), requires_grad=True)
        torch.manual_seed(7)
        y = TF.rrelu(x, 0.1, 0.3, training=True)
        (gx_ones,) = torch.autograd.grad(y, x, torch.ones_like(y), retain_graph=True)
        # The noise of the same draw, from rrelu_with_noise under the same seed.
        torch.manual_seed(7)
        out, noise = ops.rrelu_with_noise(x.detach(), 0.1, 0.3, True)
        assert_bitwise_equal(y.detach(), out)
        # d y / d x is the slope each element took: exactly the noise, and y == x * slope where x <= 0 (half and
        # bfloat16: the float slope, which the noise holds rounded).
        assert_bitwise_equal(gx_ones, noise)
        assert_exact(y.detach(), train_expected(x, gx_ones, 0.1, 0.3, _manual_seed(7)))
        g = grad_output(x, seed=4)
        (gx,) = torch.autograd.grad(y, x, g)
        expected = torch.ops.aten.rrelu_with_noise_backward(g, x.detach(), noise, 0.1, 0.3, True, False)
        assert_exact(gx, expected)

    @pytest.mark.parametrize("layout", ["contiguous", "transposed", "channels_last", "sliced_step2"])
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_train_lower_equals_upper_is_leaky_relu(self, device, dtype, layout):
        x = make_input(layout, dtype, device, values=values_with_specials(dtype), requires_grad=True)
        for slope in (0.2, 0.0, -0.3, 1.0 / 3):
            y = TF.rrelu(x, slope, slope, training=True)
            assert_exact(y, F.leaky_relu(x, slope))
            g = grad_output(x)
            (gx,) = torch.autograd.grad(y, x, g)
            (expected,) = torch.autograd.grad(F.leaky_relu(x, slope), x, g)
            # NaN inputs: the gradient is NaN (ATen's rrelu's is 1, leaky_relu's the slope).
            assert bool(torch.isnan(gx[torch.isnan(x.detach())]).all())
            # half and bfloat16: the gradient multiplies by the noise, the slope rounded to the dtype (as ATen's
            # rrelu), where leaky_relu multiplies by the float slope: equal up to that rounding.
            exact = {} if dtype in REDUCED_DTYPES else dict(rtol=0, atol=0)
            assert_close_off_nan(gx, expected, x, **exact)
            if dtype == torch.float16 and device == "cpu":
                continue  # PyTorch's CPU rrelu has no float16 training kernel
            aten_y = F.rrelu(x, slope, slope, training=True)
            if device == "cuda" and dtype in REDUCED_DTYPES:
                # ATen's CUDA kernel rounds the slope to the dtype before multiplying (its CPU kernel and
                # leaky_relu do not); ours multiplies by the op-math slope on both devices, so it is
                # leaky_relu's bit for bit (checked above) and within one rounding of ATen's CUDA rrelu.
                torch.testing.assert_close(y, aten_y, equal_nan=True)
                continue
            assert_exact(y, aten_y)
            (aten_gx,) = torch.autograd.grad(aten_y, x, g)
            assert_exact(gx, nan_at_nan_inputs(aten_gx, x))

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16],
                             ids=["float32", "float64", "bfloat16"])
    @pytest.mark.parametrize("device", DEVICES)
    def test_train_equal_bounds_matches_aten_noise(self, device, dtype):
        # ATen's rrelu_with_noise with lower == upper is deterministic: our output and noise equal its, bit for bit
        # (noise 1 for x > 0, the slope for x <= 0), but at NaN inputs, where ours is NaN and ATen's 1. ATen's CPU
        # kernel has no float16.
        x = make_input("large", dtype, device, values=values_with_specials(dtype))
        out, noise = ops.rrelu_with_noise(x, 0.25, 0.25, True)
        aten_noise = torch.empty_like(x)
        aten_out = torch.ops.aten.rrelu_with_noise(x, aten_noise, 0.25, 0.25, True)
        assert_exact(out, aten_out)
        assert_exact(noise, nan_at_nan_inputs(aten_noise, x))

    # ------------------------------------------------------------------------------------------
    # In-place: functional inplace=True and module inplace=True, both modes
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("training", MODES)
    @pytest.mark.parametrize("api", APIS)
    @pytest.mark.parametrize("layout", WRITABLE_LAYOUTS)
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_matches_out_of_place(self, device, dtype, layout, api, training):
        x = make_input(layout, dtype, device, values=values_with_specials(dtype))
        torch.manual_seed(42)
        out_of_place = TF.rrelu(x, 0.1, 0.3, training)
        base = x._base if x._base is not None else x
        outside = base.clone()
        version, ptr, stride = x._version, x.data_ptr(), x.stride()
        torch.manual_seed(42)
        ret = _run_inplace(api, x, 0.1, 0.3, training)
        assert ret is x, "in-place must return its input"
        assert x._version > version, "in-place must bump the version counter"
        assert x.data_ptr() == ptr and x.stride() == stride
        # The same slopes as out of place (the same positions in memory of empty_like(x)).
        assert_bitwise_equal(x, out_of_place)
        # Elements of the base outside the view are untouched.
        if x._base is not None:
            expected_base = outside.clone()
            expected_base.as_strided(x.size(), x.stride(), x.storage_offset()).copy_(out_of_place)
            assert_bitwise_equal(base, expected_base)
        if not training:
            torch_x, _ = same_layout_copy(make_input(layout, dtype, device, values=values_with_specials(dtype)))
            _torch_inplace(api, torch_x, 0.1, 0.3, False)
            assert_exact(x, torch_x)

    @pytest.mark.parametrize("training", MODES)
    @pytest.mark.parametrize("api", APIS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_under_no_grad_on_leaf(self, device, api, training):
        leaf = make_input("contiguous", torch.float32, device).requires_grad_()
        torch.manual_seed(1)
        expected = TF.rrelu(leaf.detach(), 0.1, 0.3, training)
        with torch.no_grad():
            version = leaf._version
            torch.manual_seed(1)
            ret = _run_inplace(api, leaf, 0.1, 0.3, training)
        assert ret is leaf and leaf._version > version
        assert_bitwise_equal(leaf.detach(), expected)

    @pytest.mark.parametrize("training", MODES)
    @pytest.mark.parametrize("api", APIS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_on_leaf_requiring_grad_errors(self, device, api, training):
        leaf = make_input("contiguous", torch.float32, device).requires_grad_()
        before = leaf.detach().clone()
        with pytest.raises(RuntimeError, match="leaf"):
            _torch_inplace(api, leaf, 0.1, 0.3, training)
        state = _rng_state(device)
        with pytest.raises(RuntimeError, match="expected self not to be a leaf tensor that requires grad .or a view of one., got a leaf "):
            _run_inplace(api, leaf, 0.1, 0.3, training)
        assert_bitwise_equal(leaf.detach(), before)  # refused before writing
        assert torch.equal(_rng_state(device), state)  # and before drawing
        view = leaf[1:]
        with pytest.raises(RuntimeError, match="got a view of a leaf with requires_grad=True"):
            _run_inplace(api, view, 0.1, 0.3, training)
        with pytest.raises(RuntimeError, match="rrelu_with_noise_: expected self not to be a leaf tensor"):
            ops.rrelu_with_noise_(leaf, 0.1, 0.3, training)
        assert_bitwise_equal(leaf.detach(), before)

    @pytest.mark.parametrize("training", MODES)
    @pytest.mark.parametrize("layout", ["expanded", "expanded_scalar"])
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_on_expanded_view_errors(self, device, layout, training):
        with pytest.raises(RuntimeError):  # PyTorch refuses it too
            F.rrelu(make_input(layout, torch.float32, device), 0.1, 0.3, training, inplace=True)
        for call in (lambda x: TF.rrelu(x, 0.1, 0.3, training, inplace=True),
                     lambda x: ops.rrelu_with_noise_(x, 0.1, 0.3, training)):
            with pytest.raises(RuntimeError, match="memory"):
                call(make_input(layout, torch.float32, device))

    @pytest.mark.parametrize("bounds,training", [pytest.param((0.1, 0.3), False, id="eval"),
                                                  pytest.param((0.2, 0.2), True, id="train_equal_bounds")])
    @pytest.mark.parametrize("api", APIS)
    @pytest.mark.parametrize("layout", ["contiguous", "scalar_0d", "empty", "transposed", "sliced_step2",
                                        "offset_slice", "permuted_sliced", "channels_last"])
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_nonleaf_backward_matches_torch(self, device, dtype, layout, api, bounds, training):
        # Deterministic cases (eval, and training with lower == upper), so PyTorch's in-place op is the reference.
        if training and dtype == torch.float16 and device == "cpu":
            pytest.skip("PyTorch's CPU rrelu has no float16 training kernel")
        lower, upper = bounds

        def run(apply):
            leaf, x = nonleaf_input(layout, dtype, device)
            root = x._base if x._base is not None else x
            out = apply(api, x, lower, upper, training)
            assert out is x
            w = grad_output(x, seed=4)
            w_root = grad_output(root, seed=5)
            # A loss over the view and over the whole base: the base's gradient must flow through the in-place op
            # only where the view wrote.
            loss = (x * w).sum() + (root * w_root).sum()
            (grad,) = torch.autograd.grad(loss, leaf)
            return x.detach(), grad

        y, grad = run(_run_inplace)
        y_ref, grad_ref = run(_torch_inplace)
        if training and device == "cuda" and dtype in REDUCED_DTYPES:
            # ATen's CUDA rrelu rounds the slope to the dtype first (see test_train_lower_equals_upper_is_leaky_relu).
            assert_close(y, y_ref)
        else:
            assert_exact(y, y_ref)
        assert_close(grad, grad_ref)

    @pytest.mark.parametrize("layout", ["contiguous", "transposed", "sliced_step2", "offset_slice", "channels_last"])
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_train_nonleaf_gradient(self, device, dtype, layout):
        # Random slopes in place on a view of a non-leaf: d loss / d leaf is w_root outside the view and
        # slope * (w + w_root) inside it, the slope being what the out-of-place op draws from the same seed.
        leaf, x = nonleaf_input(layout, dtype, device)
        root = x._base if x._base is not None else x
        torch.manual_seed(8)
        _, noise = ops.rrelu_with_noise(x.detach(), 0.1, 0.3, True)
        torch.manual_seed(8)
        TF.rrelu(x, 0.1, 0.3, True, inplace=True)
        w, w_root = grad_output(x, seed=4), grad_output(root, seed=5)
        (grad,) = torch.autograd.grad((x * w).sum() + (root * w_root).sum(), leaf)
        op = _opmath(dtype)
        if x._base is None:  # x is the whole (possibly re-laid-out) copy of the leaf
            expected = noise.to(op) * (w.to(op) + w_root.to(op))
        else:  # root is leaf * 1, contiguous: the view's positions in it are x's strides and offset
            expected = w_root.to(op).clone()
            view = expected.as_strided(x.size(), x.stride(), x.storage_offset() - root.storage_offset())
            view.copy_(noise.to(op) * (w.to(op) + view))
        assert_close(grad, expected.to(dtype))

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_train_gradient_is_noise(self, device, dtype):
        leaf = make_input("large", dtype, device, values=values_with_specials(dtype)).requires_grad_()
        x = leaf * 1
        # NB: the reference reads x's values, not leaf's: on CUDA, leaf * 1 turns NaN payloads canonical.
        x_before = x.detach().clone()
        y = ops.rrelu_with_noise_(x, 0.1, 0.3, True, _generator(device, 12))
        noise = y  # rrelu_with_noise_ returns the noise and writes the output into x
        assert not noise.requires_grad and x.requires_grad
        (gx,) = torch.autograd.grad(x, leaf, torch.ones_like(x))
        assert_bitwise_equal(gx, noise)
        out, noise_ref = ops.rrelu_with_noise(x_before, 0.1, 0.3, True, _generator(device, 12))
        assert_bitwise_equal(x.detach(), out)
        assert_bitwise_equal(noise, noise_ref)

    @pytest.mark.parametrize("api", APIS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_inplace_eval_negative_slope_backward_errors(self, device, api):
        for run in (_torch_inplace, _run_inplace):  # PyTorch first: the test asserts PyTorch's behaviour
            leaf = make_input("contiguous", torch.float32, device).requires_grad_()
            out = run(api, leaf * 1, -0.6, -0.2, False)  # the forward is allowed
            with pytest.raises(RuntimeError, match="negative slope"):
                out.sum().backward()
        # Zero slope is allowed in place; negative slopes are fine out of place and in training.
        for lower, upper, training, inplace in ((-0.2, 0.2, False, True), (-0.6, -0.2, False, False),
                                                (-0.6, -0.2, True, True)):
            leaf = make_input("contiguous", torch.float32, device).requires_grad_()
            TF.rrelu(leaf * 1, lower, upper, training, inplace=inplace).sum().backward()
            assert leaf.grad is not None

    # ------------------------------------------------------------------------------------------
    # Empty and 0-d inputs, reduced dtypes
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("training", MODES)
    @pytest.mark.parametrize("shape", [(), (0,), (3, 0, 5), (0, 4)], ids=["0d", "0", "3x0x5", "0x4"])
    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_empty_and_0d(self, device, dtype, shape, training):
        for value in (-1.5, 2.0):
            x = torch.full(shape, value, dtype=dtype, device=device, requires_grad=True)
            y = TF.rrelu(x, 0.1, 0.3, training)
            assert y.shape == x.shape and y.dtype == dtype
            (gx,) = torch.autograd.grad(y, x, torch.ones_like(y))
            assert gx.shape == x.shape
            if x.numel():
                if value > 0:
                    assert y.item() == value and gx.item() == 1
                elif training:
                    assert bound_in_dtype(0.1, dtype) <= gx.item() <= bound_in_dtype(0.3, dtype)
                    if dtype not in REDUCED_DTYPES:
                        assert y.item() == train_reference(x, gx).item()
                else:
                    assert gx.item() == bound_in_dtype(0.2, dtype)
                    assert_exact(y, F.leaky_relu(x, 0.2))
            z = x.detach().clone()
            TF.rrelu(z, 0.1, 0.3, training, inplace=True)
            out, noise = ops.rrelu_with_noise(x.detach(), 0.1, 0.3, training)
            assert out.shape == noise.shape == x.shape
            assert ops.rrelu_backward(x.detach(), None, noise, 0.1, 0.3, True, False).shape == x.shape

    # ------------------------------------------------------------------------------------------
    # Errors
    # ------------------------------------------------------------------------------------------

    BAD_BOUNDS = [
        pytest.param((0.5, 0.1), "lower <= upper", id="lower>upper"),
        pytest.param((float("nan"), 0.3), "to be finite numbers", id="nan_lower"),
        pytest.param((0.1, float("nan")), "to be finite numbers", id="nan_upper"),
        pytest.param((float("nan"), float("nan")), "to be finite numbers", id="nan_both"),
        pytest.param((float("-inf"), 0.3), "to be finite numbers", id="-inf_lower"),
        pytest.param((0.1, float("inf")), "to be finite numbers", id="inf_upper"),
        pytest.param((float("-inf"), float("inf")), "to be finite numbers", id="infinite_both"),
    ]

    @pytest.mark.parametrize("training", MODES)
    @pytest.mark.parametrize("bounds,words", BAD_BOUNDS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_bad_bounds_error(self, device, bounds, words, training):
        lower, upper = bounds
        if lower > upper:
            with pytest.raises(RuntimeError):  # PyTorch refuses lower > upper too (pytorch#83160)
                F.rrelu(make_input("contiguous", torch.float32, device), lower, upper, training)
        x = make_input("contiguous", torch.float32, device)
        before = x.clone()
        state = _rng_state(device)
        calls = {
            "rrelu": lambda: ops.rrelu(x, lower, upper, training),
            "rrelu_": lambda: ops.rrelu_(x, lower, upper, training),
            "rrelu_with_noise": lambda: ops.rrelu_with_noise(x, lower, upper, training),
            "rrelu_with_noise_": lambda: ops.rrelu_with_noise_(x, lower, upper, training),
            "functional": lambda: TF.rrelu(x, lower, upper, training),
            "functional_inplace": lambda: TF.rrelu(x, lower, upper, training, inplace=True),
            "module": lambda: TN.RReLU(lower, upper).train(training)(x),
            "requires_grad": lambda: TF.rrelu(x.clone().requires_grad_(), lower, upper, training),
            "meta": lambda: ops.rrelu(x.to("meta"), lower, upper, training),
        }
        for name, call in calls.items():
            with pytest.raises(RuntimeError, match=words) as info:
                call()
            msg = str(info.value)
            assert f"lower = {lower}" in msg and f"upper = {upper}" in msg, (name, msg)
        assert_bitwise_equal(x, before)
        assert torch.equal(_rng_state(device), state)

    @pytest.mark.parametrize("device", DEVICES)
    def test_equal_bounds_allowed(self, device):
        x = make_input("contiguous", torch.float32, device)
        for training in (False, True):
            assert_exact(TF.rrelu(x, 0.3, 0.3, training), F.leaky_relu(x, 0.3))
            assert_exact(TF.rrelu(x, 0.0, 0.0, training), F.leaky_relu(x, 0.0))

    NON_FLOATING = [torch.int32, torch.int64, torch.uint8, torch.bool, torch.complex64]

    @pytest.mark.parametrize("dtype", NON_FLOATING, ids=lambda d: str(d).replace("torch.", ""))
    @pytest.mark.parametrize("device", DEVICES)
    def test_rejects_non_floating(self, device, dtype):
        x = torch.ones(3, 4, device=device).to(dtype)
        f = torch.ones(3, 4, device=device)
        for training in (False, True):
            for call in (
                lambda: ops.rrelu(x, 0.1, 0.3, training),
                lambda: ops.rrelu_(x, 0.1, 0.3, training),
                lambda: ops.rrelu_with_noise(x, 0.1, 0.3, training),
                lambda: ops.rrelu_with_noise_(x, 0.1, 0.3, training),
                lambda: TF.rrelu(x, training=training),
                lambda: ops.rrelu_backward(x, f, f, 0.1, 0.3, training, False),
                lambda: ops.rrelu_backward(f, x, x, 0.1, 0.3, training, False),
            ):
                with pytest.raises(RuntimeError, match="floating-point"):
                    call()

    @pytest.mark.parametrize("device", DEVICES)
    def test_backward_op_errors(self, device):
        g = torch.ones(3, 4, device=device)
        with pytest.raises(RuntimeError, match="training mode needs the noise"):
            ops.rrelu_backward(g, g, None, 0.1, 0.3, True, False)
        with pytest.raises(RuntimeError, match="eval mode needs self_or_result"):
            ops.rrelu_backward(g, None, g, 0.1, 0.3, False, False)
        for bad in (torch.ones(4, 3, device=device), torch.ones(12, device=device)):
            with pytest.raises(RuntimeError, match="shape"):
                ops.rrelu_backward(g, None, bad, 0.1, 0.3, True, False)
            with pytest.raises(RuntimeError, match="shape"):
                ops.rrelu_backward(g, bad, None, 0.1, 0.3, False, False)
        with pytest.raises(RuntimeError, match="dtype"):
            ops.rrelu_backward(g, None, g.double(), 0.1, 0.3, True, False)
        with pytest.raises(RuntimeError, match="negative slope"):
            ops.rrelu_backward(g, g, None, -0.5, 0.1, False, True)
        with pytest.raises(RuntimeError, match="negative slope"):
            ops.rrelu_backward(g.to("meta"), g.to("meta"), None, -0.5, 0.1, False, True)
        # The unused tensor of each mode may be None; is_result with slope >= 0 is fine.
        assert_exact(ops.rrelu_backward(g, None, g * 0.5, 0.1, 0.3, True, True), g * 0.5)
        assert_exact(ops.rrelu_backward(g, -g, None, -0.5, 0.5, False, True), g * 0.0)

    @requires_cuda
    def test_generator_device_mismatch(self):
        x = make_input("contiguous", torch.float32, "cuda")
        with pytest.raises(RuntimeError, match="generator"):
            ops.rrelu(x, 0.1, 0.3, True, torch.Generator())
        with pytest.raises(RuntimeError, match="generator"):
            ops.rrelu(x.cpu(), 0.1, 0.3, True, torch.Generator(device="cuda"))
        with pytest.raises(RuntimeError, match="device"):
            ops.rrelu_backward(x, None, x.cpu(), 0.1, 0.3, True, False)

    # ------------------------------------------------------------------------------------------
    # gradcheck / gradgradcheck in float64, off the kink at 0
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("inplace", [False, True], ids=["out_of_place", "inplace"])
    @pytest.mark.parametrize("training", MODES)
    @pytest.mark.parametrize("bounds", NONNEG_BOUNDS + [pytest.param((-0.6, -0.2), id="negative")])
    @pytest.mark.parametrize("layout", GRADCHECK_LAYOUT_PARAMS)
    @pytest.mark.parametrize("device", DEVICES)
    def test_gradcheck(self, device, layout, bounds, training, inplace):
        lower, upper = bounds
        if inplace and not training and lower + upper < 0:
            pytest.skip("in-place eval backward refuses a negative slope (test_inplace_eval_negative_slope_...)")
        x = make_input(layout, torch.float64, device, values=away_from_zero_values, requires_grad=True)
        x = x.detach().requires_grad_()

        # Training is made deterministic by a fresh generator with a fixed seed in every call: the slopes are
        # keyed by element index, so every evaluation of fn draws the same ones.
        def fn(t):
            gen = _generator(device, 17)
            if inplace:
                c = t.clone()
                ops.rrelu_(c, lower, upper, training, gen)
                return c
            return ops.rrelu(t, lower, upper, training, gen)

        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))

    @pytest.mark.parametrize("training", MODES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_gradcheck_rrelu_with_noise(self, device, training):
        x = away_from_zero_values((3, 5)).to(device).requires_grad_()

        def fn(t):
            return ops.rrelu_with_noise(t, 0.1, 0.3, training, _generator(device, 4))[0]

        def fn_(t):
            c = t.clone()
            ops.rrelu_with_noise_(c, 0.1, 0.3, training, _generator(device, 4))
            return c

        for f in (fn, fn_):
            assert torch.autograd.gradcheck(f, (x,))
            assert torch.autograd.gradgradcheck(f, (x,))

    @pytest.mark.parametrize("is_result", [False, True], ids=["is_result=False", "is_result=True"])
    @pytest.mark.parametrize("training", MODES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_gradcheck_backward_op(self, device, training, is_result):
        g = normal_values((3, 5), seed=7).to(device).requires_grad_()
        b = away_from_zero_values((3, 5), seed=8).to(device).requires_grad_()
        noise = (torch.rand(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 0.3 + 0.1)
        noise = noise.to(device).requires_grad_()
        if training:
            # grad_output * noise: differentiable in both.
            def bwd(g, noise):
                return ops.rrelu_backward(g, None, noise, 0.1, 0.3, True, is_result)

            assert torch.autograd.gradcheck(bwd, (g, noise))
            assert torch.autograd.gradgradcheck(bwd, (g, noise))
        else:
            def bwd(g, b):
                return ops.rrelu_backward(g, b, None, 0.1, 0.3, False, is_result)

            assert torch.autograd.gradcheck(bwd, (g, b))
            assert torch.autograd.gradgradcheck(bwd, (g, b))
            # With respect to self_or_result: zero (piecewise constant), as ATen's.
            (gb,) = torch.autograd.grad(bwd(g, b).sum(), b)
            assert torch.equal(gb, torch.zeros_like(b))

    @pytest.mark.parametrize("device", DEVICES)
    def test_double_backward_wrt_input_is_zero(self, device):
        x = away_from_zero_values((4, 6)).to(device).requires_grad_()
        for training in (False, True):
            y = ops.rrelu(x, 0.1, 0.3, training, _generator(device, 1))
            (gx,) = torch.autograd.grad(y.sum(), x, create_graph=True)
            if not gx.requires_grad:  # training: grad * noise does not depend on x at all
                assert training
                continue
            (ggx,) = torch.autograd.grad(gx.sum(), x, allow_unused=True, materialize_grads=True)
            assert torch.equal(ggx, torch.zeros_like(x))

    # ------------------------------------------------------------------------------------------
    # torch.library.opcheck: schema, autograd registration, fake tensors, AOT dispatch
    # ------------------------------------------------------------------------------------------

    OPCHECK_ARGS = [
        pytest.param((), id="defaults"),
        pytest.param((0.1, 0.3, False), id="eval"),
        pytest.param((0.25, 0.25, True), id="train_equal_bounds"),
        # Random slopes: opcheck reruns the op under one seed for each comparison (torch.manual_seed), which
        # the kernels honour.
        pytest.param((0.1, 0.3, True), id="train_random"),
    ]

    @pytest.mark.parametrize("requires_grad", [False, True], ids=["no_grad", "requires_grad"])
    @pytest.mark.parametrize("args", OPCHECK_ARGS)
    @pytest.mark.parametrize("layout", ["contiguous", "channels_last", "transposed", "sliced_step2"])
    @pytest.mark.parametrize("device", DEVICES)
    def test_opcheck_forward(self, device, layout, args, requires_grad):
        x = make_input(layout, torch.float32, device).detach().requires_grad_(requires_grad)
        torch.library.opcheck(ops.rrelu.default, (x, *args))
        torch.library.opcheck(ops.rrelu_with_noise.default, (x, *args))

    @pytest.mark.parametrize("args", OPCHECK_ARGS)
    @pytest.mark.parametrize("layout", ["contiguous", "channels_last", "sliced_step2"])
    @pytest.mark.parametrize("device", DEVICES)
    def test_opcheck_inplace(self, device, layout, args):
        torch.library.opcheck(ops.rrelu_.default, (make_input(layout, torch.float32, device), *args))
        torch.library.opcheck(ops.rrelu_with_noise_.default, (make_input(layout, torch.float32, device), *args))

    @pytest.mark.parametrize("device", DEVICES)
    def test_opcheck_with_generator(self, device):
        # A Generator argument: the checks that can take one. test_aot_dispatch_dynamic cannot (AOTAutograd
        # refuses Generator inputs), see test_opcheck_aot_refuses_generator.
        x = make_input("contiguous", torch.float32, device).requires_grad_()
        utils = ("test_schema", "test_autograd_registration", "test_faketensor")
        for op in (ops.rrelu.default, ops.rrelu_with_noise.default):
            torch.library.opcheck(op, (x, 0.1, 0.3, True, _generator(device, 0)), test_utils=utils)
        torch.library.opcheck(ops.rrelu_.default, (x.detach().clone(), 0.1, 0.3, True, _generator(device, 0)),
                              test_utils=utils)

    @pytest.mark.xfail(strict=True, raises=Exception,
                       reason="AOTAutograd does not take torch.Generator arguments (PyTorch limitation)")
    def test_opcheck_aot_refuses_generator(self):
        x = make_input("contiguous", torch.float32, "cpu")
        torch.library.opcheck(ops.rrelu.default, (x, 0.1, 0.3, True, _generator("cpu", 0)),
                              test_utils=("test_aot_dispatch_dynamic",))

    @pytest.mark.parametrize("requires_grad", [False, True], ids=["no_grad", "requires_grad"])
    @pytest.mark.parametrize("case", ["train", "eval", "eval_is_result"])
    @pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
    @pytest.mark.parametrize("device", DEVICES)
    def test_opcheck_backward(self, device, layout, case, requires_grad):
        x = make_input(layout, torch.float32, device)
        g = grad_output(x)
        if layout == "channels_last":
            g = g.contiguous(memory_format=torch.channels_last)
        out, noise = ops.rrelu_with_noise(x, 0.1, 0.3, case == "train", _generator(device, 0))
        g = g.detach().requires_grad_(requires_grad)
        if case == "train":
            args = (g, None, noise.requires_grad_(requires_grad), 0.1, 0.3, True, False)
        elif case == "eval":
            args = (g, x.detach().requires_grad_(requires_grad), None, 0.1, 0.3, False, False)
        else:
            args = (g, out.detach().requires_grad_(requires_grad), None, 0.1, 0.3, False, True)
        torch.library.opcheck(ops.rrelu_backward.default, args)

    def test_ops_are_tagged_nondeterministic_seeded(self):
        for name in ("rrelu", "rrelu_", "rrelu_with_noise", "rrelu_with_noise_"):
            assert torch.Tag.nondeterministic_seeded in getattr(ops, name).default.tags, name
        assert torch.Tag.nondeterministic_seeded not in ops.rrelu_backward.default.tags
        # The public schemas, defaults included.
        assert str(ops.rrelu.default._schema).startswith(
            "torch_ext::rrelu(Tensor self, float lower=0.125, float upper=0.33333333333333331, bool training=False, "
            "Generator? generator=None) -> Tensor")
        assert str(ops.rrelu_.default._schema).endswith("Generator? generator=None) -> ()")

    # ------------------------------------------------------------------------------------------
    # torch.compile (aot_eager fullgraph), forward and backward
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("inplace", [False, True], ids=["out_of_place", "inplace"])
    @pytest.mark.parametrize("training", MODES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_compile_fullgraph(self, device, training, inplace):
        def fn(x):
            y = x * 1.5 - 0.25  # a non-leaf, so the in-place op is allowed under autograd
            z = TF.rrelu(y, 0.1, 0.3, training, inplace=inplace)
            return z * 2.0 + 1.0

        rec = GraphRecorder()
        compiled = torch.compile(fn, backend=rec.backend, fullgraph=True)
        leaf = make_input("channels_last", torch.float32, device).requires_grad_()
        g = make_input("channels_last", torch.float32, device, seed=5)
        torch.manual_seed(3)
        out = compiled(leaf)
        (grad,) = torch.autograd.grad(out, leaf, g)
        out_next = compiled(leaf)  # the compiled graph draws new slopes on every call

        ref_leaf = leaf.detach().clone().requires_grad_()
        torch.manual_seed(3)
        ref = fn(ref_leaf)
        (ref_grad,) = torch.autograd.grad(ref, ref_leaf, g)
        # Eager and compiled take the same slopes from the same seed: equal bit for bit.
        assert_bitwise_equal(out, ref)
        assert_bitwise_equal(grad, ref_grad)
        if training:
            assert not torch.equal(out_next, out)
        else:
            assert_bitwise_equal(out_next, out)
            assert_close(out, F.leaky_relu(leaf * 1.5 - 0.25, 0.2) * 2.0 + 1.0)

        assert len(rec.forward) == 1 and len(rec.backward) == 1
        fw, bw = rec.forward[0], rec.backward[0]
        assert ("torch_ext.rrelu_with_noise" if training else "torch_ext.rrelu") in fw, fw
        assert "torch_ext.rrelu_backward" in bw, bw
        assert "aten.rrelu" not in fw + bw and "aten.leaky_relu" not in fw + bw

    @pytest.mark.parametrize("device", DEVICES)
    def test_compile_module_train_eval_switch(self, device):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), TN.RReLU(0.1, 0.3), nn.Linear(16, 3)).to(device)
        compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
        x = make_input(lambda v: v((10, 8)), torch.float32, device)
        for training in (True, False, True):
            model.train(training)
            torch.manual_seed(6)
            out = compiled(x)
            out.square().sum().backward()
            torch.manual_seed(6)
            ref = model(x)
            assert_bitwise_equal(out, ref)
        model.eval()
        hidden = model[0](x)
        assert_close(compiled(x), model[2](F.leaky_relu(hidden, 0.2)))

    @pytest.mark.parametrize("device", DEVICES)
    def test_compile_dynamic_shapes(self, device):
        counter = torch._dynamo.testing.CompileCounterWithBackend("aot_eager")

        @torch.compile(backend=counter, fullgraph=True, dynamic=True)
        def fn(x):
            return TF.rrelu(x, 0.1, 0.3, True) + TF.rrelu(x, 0.1, 0.3)

        for shape in ((5, 7), (9, 3), (2, 11)):
            x = make_input(lambda v: v(shape), torch.float32, device).requires_grad_()
            torch.manual_seed(1)
            out = fn(x)
            (grad,) = torch.autograd.grad(out.sum(), x)
            xr = x.detach().requires_grad_()
            torch.manual_seed(1)
            ref = TF.rrelu(xr, 0.1, 0.3, True) + TF.rrelu(xr, 0.1, 0.3)
            (ref_grad,) = torch.autograd.grad(ref.sum(), xr)
            assert_bitwise_equal(out, ref)
            assert_bitwise_equal(grad, ref_grad)
        assert counter.frame_count == 1

    @pytest.mark.parametrize("device", DEVICES)
    def test_compile_two_calls_are_not_merged(self, device):
        # nondeterministic_seeded keeps the compilers from merging two identical training calls (CSE).
        def fn(x):
            return TF.rrelu(x, 0.1, 0.3, True) - TF.rrelu(x, 0.1, 0.3, True)

        x = make_input("large", torch.float32, device)
        for backend in ("aot_eager", "inductor"):
            torch._dynamo.reset()
            out = torch.compile(fn, backend=backend, fullgraph=True)(x)
            assert bool((out[x < 0] != 0).any()), backend
            assert bool((out[x > 0] == 0).all()), backend

    @pytest.mark.parametrize("device", DEVICES)
    def test_compile_inductor_training(self, device):
        def fn(x):
            return TF.rrelu(x * 2.0, 0.1, 0.3, True) * x

        compiled = torch.compile(fn, backend="inductor", fullgraph=True)
        leaf = make_input("channels_last", torch.float32, device).requires_grad_()
        torch.manual_seed(2)
        out = compiled(leaf)
        (grad,) = torch.autograd.grad(out.sum(), leaf)
        ref_leaf = leaf.detach().clone().requires_grad_()
        torch.manual_seed(2)
        ref = fn(ref_leaf)
        (ref_grad,) = torch.autograd.grad(ref.sum(), ref_leaf)
        torch.testing.assert_close(out, ref)
        torch.testing.assert_close(grad, ref_grad)

    @pytest.mark.xfail(strict=True, raises=torch._dynamo.exc.Unsupported,
                       reason="Dynamo cannot put a torch.Generator argument into a graph (graph break; PyTorch "
                              "limitation): fullgraph=True refuses it")
    def test_compile_explicit_generator_fullgraph(self):
        gen = _generator("cpu", 1)

        def fn(x):
            return ops.rrelu(x, 0.1, 0.3, True, gen)

        torch.compile(fn, backend="aot_eager", fullgraph=True)(make_input("contiguous", torch.float32, "cpu"))

    def test_compile_explicit_generator_graph_break(self):
        # Without fullgraph, the call with a generator runs eagerly between graphs, with the generator's slopes.
        gen = _generator("cpu", 1)

        def fn(x):
            return ops.rrelu(x * 2.0, 0.1, 0.3, True, gen) + 1.0

        x = make_input("contiguous", torch.float32, "cpu")
        out = torch.compile(fn, backend="aot_eager")(x)
        gen.manual_seed(1)
        assert_bitwise_equal(out, fn(x))

    # ------------------------------------------------------------------------------------------
    # Modules: torch_ext.nn.RReLU against torch.nn.RReLU
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("dtype", FLOAT_DTYPES)
    @pytest.mark.parametrize("device", DEVICES)
    def test_module_train_eval_switch(self, device, dtype):
        x = make_input("large", dtype, device)
        m, ref = TN.RReLU(0.1, 0.3), nn.RReLU(0.1, 0.3)
        assert m.training
        a, b = m(x), m(x)  # train mode: random slopes, new on each call
        neg = x < -0.01  # away from half precision's subnormals, where y / x is not the slope
        assert not torch.equal(a[neg], b[neg])
        slopes = (a[neg].double() / x[neg].double())
        assert bool((slopes > 0.09).all()) and bool((slopes < 0.31).all())
        assert slopes.std().item() > 0.03
        m.eval()
        ref.eval()
        assert_exact(m(x), ref(x))  # eval: the fixed slope, as torch.nn.RReLU
        assert_exact(m(x), F.leaky_relu(x, 0.2))
        assert_bitwise_equal(m(x), m(x))
        m.train()
        assert not torch.equal(m(x)[neg], m(x)[neg])
        # In place, module flavour.
        mi = TN.RReLU(0.1, 0.3, inplace=True).eval()
        y = x.clone()
        assert mi(y) is y
        assert_exact(y, F.leaky_relu(x, 0.2))

    # ------------------------------------------------------------------------------------------
    # Autograd plumbing, autocast, conventions
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("device", DEVICES)
    def test_noise_does_not_require_grad(self, device):
        # (The grad-mode checks every op shares are tests/test_ops.py's.)
        xr = make_input("contiguous", torch.float32, device).requires_grad_()
        out, noise = ops.rrelu_with_noise(xr, 0.1, 0.3, True)
        assert out.requires_grad and not noise.requires_grad

    @pytest.mark.parametrize("device", DEVICES)
    def test_autocast_keeps_dtype(self, device):
        # RReLU is on no autocast list: under autocast it runs in the input's dtype, as in PyTorch.
        x = make_input("contiguous", torch.float32, device)
        low = torch.bfloat16 if device == "cpu" else torch.float16
        with torch.autocast(device_type=device, dtype=low):
            out = TF.rrelu(x, 0.1, 0.3)
            expected = F.rrelu(x, 0.1, 0.3)
            half_in = TF.rrelu(x.to(low), training=True)
        assert out.dtype == expected.dtype == torch.float32 and half_in.dtype == low
        assert_exact(out, expected)

    # ------------------------------------------------------------------------------------------
    # Properties over random shapes, strides, dtypes and values
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("device", DEVICES)
    @given(data=st.data())
    def test_property_random_layouts(self, device, data):
        layout = draw_strided_layout(data, max_size=6)
        dtype = data.draw(st.sampled_from(list(DTYPE_NAMES)), label="dtype")
        lower = data.draw(st.sampled_from([0.0, 0.125, -0.5, 0.3]), label="lower")
        width = data.draw(st.sampled_from([0.0, 0.2, 1.0]), label="width")
        seed = data.draw(st.integers(0, 2**16), label="seed")
        upper = lower + width

        base = with_specials_every(normal_values(layout.base_shape, seed=seed), dtype, 5)
        x = layout.view(base.to(device=device, dtype=dtype))

        out, noise = ops.rrelu_with_noise(x, lower, upper, True, _generator(device, seed))
        assert out.stride() == torch.empty_like(x).stride() == noise.stride()
        check_noise_contract(x, noise, lower, upper)
        assert_exact(out, train_expected(x, noise, lower, upper, lambda: _generator(device, seed)))
        y, _ = same_layout_copy(x)
        ops.rrelu_(y, lower, upper, True, _generator(device, seed))
        assert_bitwise_equal(y, out)
        assert_exact(TF.rrelu(x, lower, upper), F.leaky_relu(x, (lower + upper) / 2))

    # ------------------------------------------------------------------------------------------
    # The CPU kernels of each compiled ISA draw the same slopes
    # ------------------------------------------------------------------------------------------

    @pytest.mark.parametrize("isa", ["default", "avx2", "avx512"])
    def test_cpu_isa_kernels(self, isa, tmp_path):
        """Each compiled CPU kernel (the ISA picked by ATEN_CPU_CAPABILITY), in a subprocess, gives this process's
        results exactly (every value and sign of zero; NaN payloads aside): training (forward, noise, backward, in
        place) and eval (against PyTorch)."""
        cases = _isa_cases()
        torch.save(cases, tmp_path / "cases.pt")
        run_with_cpu_isa(isa, _ISA_SCRIPT, str(tmp_path / "cases.pt"))

    # ------------------------------------------------------------------------------------------
    # CUDA specifics: graphs, streams, 64-bit indexing, device guard
    # ------------------------------------------------------------------------------------------

    @requires_cuda
    def test_cuda_graph_capture_new_slopes_each_replay(self):
        static_x = make_input("large", torch.float32, "cuda").requires_grad_()
        static_g = torch.ones_like(static_x)
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(2):  # warm up
                y = TF.rrelu(static_x, 0.1, 0.3, True)
                torch.autograd.grad(y, static_x, static_g)
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_y = TF.rrelu(static_x, 0.1, 0.3, True)
            (static_gx,) = torch.autograd.grad(static_y, static_x, static_g)
            static_z = static_x.detach().clone()
            TF.rrelu(static_z, 0.1, 0.3, True, inplace=True)
        x = static_x.detach()
        results = []
        for _ in range(3):
            graph.replay()
            torch.cuda.synchronize()
            y, gx, z = static_y.detach().clone(), static_gx.clone(), static_z.clone()
            check_noise_contract(x, gx, 0.1, 0.3)  # the gradient is the slope each element took
            assert_exact(y, train_reference(x, gx))
            check_noise_contract(x, torch.where(x <= 0, z / x, torch.ones_like(x)).to(torch.float32), 0.099, 0.301)
            results.append(y)
        neg = x < 0
        assert not torch.equal(results[0][neg], results[1][neg]), "each replay must draw new slopes"
        assert not torch.equal(results[1][neg], results[2][neg])

    @requires_cuda
    def test_cuda_unaligned_and_odd_sizes(self):
        # Offsets that break the 4-element vector path, and sizes that leave partial groups.
        base = _negative_values((4 * 1031 + 7,)).float().cuda()
        for start in (0, 1, 2, 3):
            x = base[start:]
            out, noise = ops.rrelu_with_noise(x, 0.1, 0.3, True, _generator("cuda", 6))
            check_noise_contract(x, noise, 0.1, 0.3)
            assert_exact(out, train_reference(x, noise))
            _, flat = ops.rrelu_with_noise(x.clone(), 0.1, 0.3, True, _generator("cuda", 6))
            assert_bitwise_equal(noise, flat)

    @requires_cuda
    def test_cuda_64bit_indexing(self):
        free, _ = torch.cuda.mem_get_info()
        if free < 24 * 2**30:
            pytest.skip("needs ~24 GiB of free GPU memory")
        n = 2**31 + 77
        x = torch.empty(n, dtype=torch.float16, device="cuda")
        x.uniform_(-4, 4)
        out, noise = ops.rrelu_with_noise(x, 0.1, 0.3, True, _generator("cuda", 1))
        for sl in (slice(0, 4096), slice(2**31 - 100, n)):
            check_noise_contract(x[sl], noise[sl], 0.1, 0.3)
            # half: y is x times the float slope, the noise that slope rounded: equal up to the rounding.
            assert_close(out[sl], train_reference(x[sl], noise[sl]))
        del out, noise
        assert_exact(TF.rrelu(x, 0.1, 0.3)[-300:], F.leaky_relu(x[-300:], 0.2))

    @pytest.mark.skipif(not CUDA_AVAILABLE or torch.cuda.device_count() < 2, reason="needs two GPUs")
    def test_cuda_second_device(self):
        x = make_input("large", torch.float32, "cuda:1", requires_grad=True)
        out = TF.rrelu(x, 0.1, 0.3, True)
        assert out.device == x.device
        (gx,) = torch.autograd.grad(out, x, torch.ones_like(out))
        check_noise_contract(x, gx, 0.1, 0.3)


def _isa_cases():
    """Inputs and this process's results for the ISA subprocess."""
    layouts = {
        "contiguous": lambda v: v((3, 1031)),
        "transposed": lambda v: v((1031, 3)).t(),
        "sliced": lambda v: v((6, 1031))[::2, 1:],
        "channels_last": lambda v: v((2, 19, 6, 7)).contiguous(memory_format=torch.channels_last),
    }
    cases = []
    for dtype in DTYPE_NAMES:
        for name, layout in layouts.items():
            x = make_input(layout, dtype, "cpu", values=values_with_specials(dtype))
            out, noise = ops.rrelu_with_noise(x, 0.1, 0.3, True, _generator("cpu", 21))
            g = normal_values(x.shape, seed=1).to(dtype)
            gx = ops.rrelu_backward(g, None, noise, 0.1, 0.3, True, False)
            cases.append(dict(name=f"{dtype} {name}", x=x, g=g, out=out, noise=noise, gx=gx))
    return cases


# Run in a subprocess with ATEN_CPU_CAPABILITY set: checks that torch_ext picked that ISA's kernel and that its
# training results equal the parent's exactly (the same slopes), and its eval results PyTorch's.
_ISA_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    import torch.nn.functional as F
    import torch_ext
    from common_utils import assert_close, assert_same_zero_signs

    def assert_same(actual, expected, where):
        # Equal values and signs of zero; NaN meets NaN (its payload is the ISA's float -> bfloat16 conversion's).
        torch.testing.assert_close(actual, expected, rtol=0, atol=0, equal_nan=True, msg=lambda m: where + ": " + m)
        assert_same_zero_signs(actual, expected)

    ops = torch.ops.torch_ext
    want, path = sys.argv[1], sys.argv[2]
    assert torch.backends.cpu.get_cpu_capability() == want, torch.backends.cpu.get_cpu_capability()
    assert torch_ext.build_info()["cpu_capability"] == want
    checked = 0
    for case in torch.load(path):
        x, where = case["x"], want + " " + case["name"]
        out, noise = ops.rrelu_with_noise(x, 0.1, 0.3, True, torch.Generator().manual_seed(21))
        assert_same(out, case["out"], where + " output")
        assert_same(noise, case["noise"], where + " noise")
        gx = ops.rrelu_backward(case["g"], None, noise, 0.1, 0.3, True, False)
        assert_same(gx, case["gx"], where + " backward")
        # The same strides and offset in a copy of the storage (a loaded view has no _base).
        y = torch.empty(0, dtype=x.dtype).set_(x.untyped_storage().clone(), x.storage_offset(), x.size(), x.stride())
        ops.rrelu_(y, 0.1, 0.3, True, torch.Generator().manual_seed(21))
        assert_same(y, case["out"], where + " in place")
        assert_close(ops.rrelu(x, 0.1, 0.3, False), F.leaky_relu(x, 0.2), rtol=0, atol=0)
        checked += 1
    print(f"checked {checked} cases")
    print("OK")
    """
)
