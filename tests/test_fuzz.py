"""Property tests ("fuzzing") of every op against torch.nn.functional, with one input generator for all of them:
every row of the op table (torch_ext.testing.op_db) through the test its ``fuzz`` names (the generic elementwise
one over the row's argument grid, or its family's own).

Each example draws a shape (0-d and empty ones included), a layout (contiguous, permuted, sliced with steps and
offsets, channels_last, expanded with zero strides, and combinations), a dtype, the op's parameters, and values
with special ones (NaN, +-inf, +-0, huge, tiny and subnormal) mixed in at random places; the gradient fed to the
backward has its own layout. Forward and backward (through autograd) are compared with PyTorch's, NaN positions
included, with common_utils.tol's tolerances.

Known, intended differences (each documented in the op's own test file) are compared otherwise:
- elu family: where the input is NaN, PyTorch's vectorized CPU elu_backward gives NaN and its scalar loop a
  number; the float64 reference of ATen's formula decides those positions (test_elu). CELU's alpha is drawn with an
  exact reciprocal: PyTorch's celu backward rounds 1/alpha to float, torch_ext does not (test_elu). The float64
  reference is not held where exp(input_scale * x) overflows the op-math type (both libraries give inf there).
- softplus: where threshold lets beta * x past exp's overflow, PyTorch overflows (inf or NaN) and torch_ext does
  not; compared where PyTorch's result is finite, and torch_ext's must be finite wherever the exact value is
  (test_softplus).
- prelu: grad_weight is a sum; PyTorch rounds each product to half/bfloat16 before summing, torch_ext sums in
  float: compared with the float64 sum of the op-math products, within the sum's rounding (test_prelu), except
  where the finite products add up past the op-math type's max (a partial sum may overflow, in any order).
- rrelu in training draws its slopes: compared through the noise (noise in [lower, upper] where x <= 0, 1
  elsewhere; output x * slope; gradient grad * noise, as ATen's rrelu_with_noise_backward), not value for value.
  Its output keeps the input's memory format, where ATen's is contiguous (test_rrelu).
- log_softmax into half/bfloat16: ATen rounds log(sum) to the dtype, an ulp of it more (test_softmax); both
  softmaxes are also held to a float64 reference, and their gradients to the float64 formula from torch_ext's
  output.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

import torch_ext.functional as TF
from torch_ext.testing import OptOut, op_db
from common_utils import (
    DEVICES,
    DTYPE_NAMES,
    REDUCED_DTYPES,
    SELU_ALPHA,
    SELU_SCALE,
    assert_bitwise_equal,
    assert_close,
    elu_backward_reference,
    nan_at_nan_inputs,
    normal_values,
    same_layout_copy,
    special_values,
    tol,
)

ops = torch.ops.torch_ext
aten = torch.ops.aten
DTYPES = list(DTYPE_NAMES)


# --------------------------------------------------------------------------------------------------
# One generator of inputs for every op
# --------------------------------------------------------------------------------------------------

def draw_values(data, dtype, shape, seed, magnitude, specials=True):
    """float64 values of a base tensor: normal * magnitude, with special values of dtype at a random fraction of
    the places (positions from the seed)."""
    v = normal_values(shape, seed=seed) * magnitude
    if not specials:
        return v
    density = data.draw(st.sampled_from([0.0, 0.0, 0.1, 0.3, 1.0]), label="special_density")
    if density and v.numel():
        g = torch.Generator().manual_seed(seed + 7)
        sp = special_values(dtype).double()
        where = torch.rand(v.shape, generator=g, dtype=torch.float64) < density
        pick = torch.randint(0, sp.numel(), v.shape, generator=g)
        v = torch.where(where, sp[pick], v)
    return v


def draw_tensor(data, dtype, device, *, name="x", min_ndim=0, max_ndim=4, min_size=0, max_size=5,
                allow_expanded=True, shape=None, magnitude=None, specials=True):
    """A tensor of dtype on device with a drawn shape and layout:
    - the base is laid out contiguous, channels_last (4-D or 5-D), or permuted;
    - then sliced with steps (1-3) and offsets (0-1) per dim;
    - then, if allowed, some dims are expanded from size 1 (stride 0).
    Returns (x, description)."""
    if shape is None:
        ndim = data.draw(st.integers(min_ndim, max_ndim), label=f"{name}.ndim")
        shape = data.draw(st.lists(st.integers(min_size, max_size), min_size=ndim, max_size=ndim),
                          label=f"{name}.shape")
    ndim = len(shape)
    expanded = [False] * ndim
    if allow_expanded and ndim:
        expanded = data.draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim), label=f"{name}.expanded")
    steps = data.draw(st.lists(st.sampled_from([1, 1, 2, 3]), min_size=ndim, max_size=ndim), label=f"{name}.steps")
    offsets = data.draw(st.lists(st.integers(0, 1), min_size=ndim, max_size=ndim), label=f"{name}.offsets")
    formats = ["contiguous", "permuted"] + (["channels_last"] if ndim in (4, 5) else [])
    fmt = data.draw(st.sampled_from(formats), label=f"{name}.format")
    perm = list(range(ndim))
    if fmt == "permuted":
        perm = data.draw(st.permutations(range(ndim)), label=f"{name}.perm")
    if magnitude is None:
        magnitude = data.draw(st.sampled_from([1e-6, 1e-2, 1.0, 3.0, 30.0, 1e4]), label=f"{name}.magnitude")
    seed = data.draw(st.integers(0, 2**16), label=f"{name}.seed")

    view_shape = [1 if e else s for s, e in zip(shape, expanded)]
    full = [o + max(s, 1) * st_ for s, st_, o in zip(view_shape, steps, offsets)]
    base = draw_values(data, dtype, [full[p] for p in perm], seed, magnitude, specials).to(device=device, dtype=dtype)
    base = base.permute([perm.index(i) for i in range(ndim)])
    if fmt == "channels_last":
        base = base.contiguous(memory_format=torch.channels_last if ndim == 4 else torch.channels_last_3d)
    x = base[tuple(slice(o, o + s * st_, st_) for s, st_, o in zip(view_shape, steps, offsets))]
    x = x.expand(shape)
    assert list(x.shape) == list(shape)
    desc = f"{name}: shape {tuple(x.shape)} strides {x.stride()} offset {x.storage_offset()} {dtype}"
    return x, desc


def draw_grad(data, like):
    """grad_output for a result shaped like `like`: its own layout (any, expanded included), normal values."""
    g, _ = draw_tensor(data, like.dtype, like.device, name="grad", shape=list(like.shape), magnitude=1.0,
                       specials=False)
    return g


def draw_dtype(data):
    return data.draw(st.sampled_from(DTYPES), label="dtype")


def grad_of(fn, x, g, *others):
    """fn(x_leaf, *other_leaves) and the gradients for g, through autograd (x may be any view: its leaf is a
    detached copy with the same strides)."""
    leaf = x.detach().requires_grad_()
    other_leaves = [o.detach().requires_grad_() for o in others]
    y = fn(leaf, *other_leaves)
    grads = torch.autograd.grad(y, [leaf, *other_leaves], g)
    return y.detach(), grads


def assert_nan_positions(actual, expected, what):
    an, en = torch.isnan(actual), torch.isnan(expected)
    assert torch.equal(an, en), f"{what}: NaN positions differ at {(an != en).nonzero()[:8].tolist()}"


def writable(x):
    """A copy of x with the same strides (x must not be expanded), for in-place ops."""
    y, _ = same_layout_copy(x)
    return y


def is_expanded(x):
    return any(st_ == 0 and s > 1 for s, st_ in zip(x.shape, x.stride()))


def check_in_place(x, inplace_fn, out, what):
    """inplace_fn on a same-strided copy of x equals the out-of-place result, bit for bit. Skipped where x is
    expanded (an in-place op needs distinct elements). No autograd: negative alphas and slopes are allowed."""
    if not is_expanded(x):
        z = writable(x)
        inplace_fn(z)
        assert_bitwise_equal(z, out, what)


def draw_rrelu_bounds(data):
    lower = data.draw(st.sampled_from([0.0, 0.125, -0.5, 0.3]) | st.floats(-1, 1, width=32), label="lower")
    upper = lower + data.draw(st.sampled_from([0.0, 0.2, 1.0]) | st.floats(0, 1, width=32), label="width")
    return lower, upper


def check_elementwise_layout(out, x):
    """Element-wise results keep the input's layout: the strides of empty_like(x)."""
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    assert out.stride() == torch.empty_like(x).stride(), (out.stride(), x.stride())


# --------------------------------------------------------------------------------------------------
# The properties
# --------------------------------------------------------------------------------------------------

# Each example is cheap (a few ms): ten times the profile's examples per op (600 in the 'ci' profile, ~30 s for
# the file on one core).
FUZZ = settings(max_examples=10 * settings.default.max_examples)

# Values of alpha with an exact reciprocal in float (CELU: see the module docstring), of both signs.
EXACT_RECIPROCAL_ALPHAS = [1.0, 0.5, 2.0, 0.25, 4.0, -0.5, -2.0, 1.0 / 1024]


def _rows(kind):
    """The rows of the op table whose property test (OpInfo.fuzz) is `kind`."""
    return [row for row in op_db if row.fuzz == kind]


def _row_params(kind):
    return [pytest.param(row, id=row.name) for row in _rows(kind)]


# kind: the test of TestFuzz that draws such a row's inputs
KINDS = {"elementwise": "test_elementwise", "elu": "test_elu_celu_selu", "softplus": "test_softplus",
         "prelu": "test_prelu", "rrelu_eval": "test_rrelu_eval", "rrelu_train": "test_rrelu_train",
         "softmax": "test_softmax_log_softmax"}


def test_every_row_has_a_property_test():
    # A row names a test of this file (or opts out with a reason): a new op does not go unfuzzed unseen.
    for row in op_db:
        assert isinstance(row.fuzz, OptOut) or row.fuzz in KINDS, (row.name, row.fuzz)
    for kind, test in KINDS.items():
        assert _rows(kind) and hasattr(TestFuzz, test), kind


def _args_grid(row):
    """The arguments of the row's parity samples (its reference families' argument grid), each once."""
    grid = []
    for make in row.parity_samples.values():
        args = make(torch.float32, "meta").args
        if args not in grid:
            grid.append(args)
    return grid


@pytest.mark.parametrize("device", DEVICES)
class TestFuzz:
    @FUZZ
    @given(data=st.data())
    @pytest.mark.parametrize("row", _row_params("elementwise"))
    def test_elementwise(self, device, row, data):
        # The generic test: forward and backward against ref over the row's argument grid, NaN positions, at NaN
        # inputs NaN or ATen's value (nan_gradient_at_nan_input), in place, the layout.
        dtype = draw_dtype(data)
        x, desc = draw_tensor(data, dtype, device)
        args = data.draw(st.sampled_from(_args_grid(row)), label="args")
        g = draw_grad(data, x)
        where = f"{row.name}{args}, {desc}"

        out, (gx,) = grad_of(lambda t: row.op(t, *args), x, g)
        expected, (gx_ref,) = grad_of(lambda t: row.ref(t, *args), x, g)
        check_elementwise_layout(out, x)
        assert_close(out, expected, **row.tolerances[dtype], msg=lambda m: f"forward, {where}: {m}")
        assert_nan_positions(out, expected, f"forward, {where}")
        nan = torch.isnan(x)
        if row.nan_gradient_at_nan_input:
            assert bool(torch.isnan(gx[nan]).all()), f"backward: not NaN at a NaN input, {where}"
        else:
            assert_close(gx[nan], gx_ref[nan], rtol=0, atol=0, msg=lambda m: f"backward at NaN, {where}: {m}")
        assert_close(gx[~nan], gx_ref[~nan], **row.tolerances[dtype], msg=lambda m: f"backward, {where}: {m}")
        if row.inplace is not None:
            check_in_place(x, lambda z: row.inplace(z, *args), out, f"in place, {where}")

    @FUZZ
    @given(data=st.data())
    def test_elu_celu_selu(self, device, data):
        dtype = draw_dtype(data)
        x, desc = draw_tensor(data, dtype, device)
        op = data.draw(st.sampled_from([row.name for row in _rows("elu")]), label="op")
        if op == "elu":
            alpha = data.draw(st.sampled_from([1.0, 0.5, 0.0, -0.5]) | st.floats(-3, 3, width=32), label="alpha")
            alpha += 0.0  # no -0.0
            ext, ref = (lambda t: TF.elu(t, alpha)), (lambda t: F.elu(t, alpha))
            params = (alpha, 1.0, 1.0)
        elif op == "celu":
            alpha = data.draw(st.sampled_from(EXACT_RECIPROCAL_ALPHAS), label="alpha")
            ext, ref = (lambda t: TF.celu(t, alpha)), (lambda t: F.celu(t, alpha))
            params = (alpha, 1.0, 1.0 / alpha)
        else:
            ext, ref = TF.selu, F.selu
            params = (SELU_ALPHA, SELU_SCALE, 1.0)
        g = draw_grad(data, x)

        out, (gx,) = grad_of(ext, x, g)
        expected, (gx_ref,) = grad_of(ref, x, g)
        check_elementwise_layout(out, x)
        assert_close(out, expected, msg=lambda m: f"{op} forward, {desc}: {m}")
        assert_nan_positions(out, expected, f"{op} forward, {desc}")
        keep = ~torch.isnan(x)  # NaN inputs: see the module docstring
        assert_close(gx[keep], gx_ref[keep], msg=lambda m: f"{op} backward, {desc}: {m}")
        # The float64 formula, except where exp(input_scale * x) overflows the op-math type though the gradient
        # does not (PyTorch and torch_ext both give an infinity there).
        om = torch.float64 if dtype == torch.float64 else torch.float32
        fits = ~(x.double() * params[2] >= math.log(torch.finfo(om).max))
        ref64 = elu_backward_reference(g, *params, False, x)
        assert_close(gx[fits], ref64[fits], msg=lambda m: f"{op} backward vs float64, {desc}: {m}")
        inplace = {"elu": lambda z: TF.elu(z, alpha, inplace=True), "celu": lambda z: TF.celu(z, alpha, inplace=True),
                   "selu": lambda z: TF.selu(z, inplace=True)}[op]
        check_in_place(x, inplace, out, f"{op} in place, {desc}")

    @FUZZ
    @given(data=st.data())
    @pytest.mark.parametrize("row", _row_params("softplus"))
    def test_softplus(self, device, row, data):
        dtype = draw_dtype(data)
        x, desc = draw_tensor(data, dtype, device)
        beta = data.draw(st.sampled_from([1.0, 0.5, 2.0, 10.0, -1.5]) | st.floats(0.0625, 50, width=32),
                         label="beta")
        threshold = data.draw(st.sampled_from([20.0, 1.0, 0.0, -1.0, 100.0, 1e4]) | st.floats(-30, 30, width=32),
                              label="threshold")
        g = draw_grad(data, x)

        out, (gx,) = grad_of(lambda t: row.op(t, beta, threshold), x, g)
        expected, (gx_ref,) = grad_of(lambda t: row.ref(t, beta, threshold), x, g)
        check_elementwise_layout(out, x)
        # Where PyTorch's result is finite, and wherever x is NaN or +-inf (no overflow there, both agree).
        special = ~torch.isfinite(x)
        for name, a, e in (("forward", out, expected), ("backward", gx, gx_ref)):
            keep = torch.isfinite(e) | special
            assert_close(a[keep], e[keep], msg=lambda m: f"softplus {name}, {desc}: {m}")
        assert_nan_positions(out, x, f"softplus forward: NaN where x is NaN, {desc}")
        # Nowhere else NaN: the stable form does not overflow.
        assert not torch.isnan(gx[~torch.isnan(x)]).any(), f"softplus backward NaN, {desc}"
        # softplus' value for finite x: finite (the float64 reference rounds to inf only past the dtype's max).
        xd = x.double()
        bx = xd * beta
        ref64 = torch.where(bx > 0, xd + torch.log1p(torch.exp(-bx)) / beta, torch.log1p(torch.exp(bx)) / beta)
        ref64 = torch.where(bx > threshold, xd, ref64).to(dtype)
        fin = torch.isfinite(ref64)
        assert torch.isfinite(out[fin]).all(), f"softplus overflowed, {desc}"

    @FUZZ
    @given(data=st.data())
    @pytest.mark.parametrize("row", _row_params("prelu"))
    def test_prelu(self, device, row, data):
        dtype = draw_dtype(data)
        x, desc = draw_tensor(data, dtype, device)
        channels = x.shape[1] if x.dim() >= 2 else 1
        single = channels == 1 or data.draw(st.booleans(), label="single")
        n = 1 if single else channels
        wseed = data.draw(st.integers(0, 2**16), label="w.seed")
        w = (torch.rand(n, generator=torch.Generator().manual_seed(wseed), dtype=torch.float64) * 4 - 2)
        if n and data.draw(st.booleans(), label="w.specials"):
            w[0] = data.draw(st.sampled_from([0.0, -0.0, 1.0, math.inf, -math.inf, math.nan]), label="w0")
        w = w.to(device=device, dtype=dtype)
        g = draw_grad(data, x)

        out, (gx, gw) = grad_of(row.op, x, g, w)
        expected, (gx_ref, _) = grad_of(row.ref, x, g, w)
        check_elementwise_layout(out, x)
        # One product per element, rounded once: exact.
        assert_close(out, expected, rtol=0, atol=0, msg=lambda m: f"prelu forward, {desc}: {m}")
        assert_close(gx, nan_at_nan_inputs(gx_ref, x), rtol=0, atol=0,
                     msg=lambda m: f"prelu grad_self, {desc}: {m}")
        # grad_weight: the float64 sum of the products g * x where x <= 0, each in the op-math type (PyTorch rounds
        # them to half/bfloat16: see the docstring), within the sum's rounding to dtype and a float accumulation's
        # error. Where the products' magnitudes add up past the op-math type's max, a partial sum may overflow,
        # whatever the order: not checked.
        om = torch.float64 if dtype == torch.float64 else torch.float32
        xd = x.detach().double()
        contrib = torch.where(xd > 0, torch.zeros_like(xd), (g.to(om) * x.detach().to(om)).double())
        finite_abs = torch.where(torch.isfinite(contrib), contrib.abs(), torch.zeros_like(contrib))

        def per_weight(t):
            return t.sum().reshape(1) if single else t.sum([d for d in range(x.dim()) if d != 1])

        ref, abs_sum, finite_abs_sum = per_weight(contrib), per_weight(contrib.abs()), per_weight(finite_abs)
        assert gw.shape == w.shape and gw.dtype == dtype
        a = gw.double().cpu()
        e = ref.to(dtype).double().cpu()  # rounded once, as the result is (an infinity where the sum is past max)
        t = tol(dtype)
        acc = 4 * torch.finfo(om).eps * max(1, x.numel()) ** 0.5
        ok = (a - e).abs() <= t["atol"] + t["rtol"] * e.abs() + acc * abs_sum.cpu()
        ok |= (a == e) | (torch.isnan(a) & torch.isnan(e))
        ok |= finite_abs_sum.cpu() > torch.finfo(om).max
        assert bool(ok.all()), f"prelu grad_weight, {desc}: {a.tolist()} vs float64 {ref.tolist()}"

    @FUZZ
    @given(data=st.data())
    @pytest.mark.parametrize("row", _row_params("rrelu_eval"))
    def test_rrelu_eval(self, device, row, data):
        dtype = draw_dtype(data)
        x, desc = draw_tensor(data, dtype, device)
        lower, upper = draw_rrelu_bounds(data)
        g = draw_grad(data, x)

        out, (gx,) = grad_of(lambda t: row.op(t, lower, upper), x, g)
        expected, (gx_ref,) = grad_of(lambda t: row.ref(t, lower, upper), x, g)
        check_elementwise_layout(out, x)
        assert_close(out, expected, rtol=0, atol=0, msg=lambda m: f"rrelu eval forward, {desc}: {m}")
        assert_close(gx, nan_at_nan_inputs(gx_ref, x), rtol=0, atol=0,
                     msg=lambda m: f"rrelu eval backward, {desc}: {m}")
        check_in_place(x, lambda z: row.inplace(z, lower, upper), out,
                       f"rrelu eval in place, {desc}")

    @FUZZ
    @given(data=st.data())
    @pytest.mark.parametrize("row", _row_params("rrelu_train"))
    def test_rrelu_train(self, device, row, data):
        dtype = draw_dtype(data)
        x, desc = draw_tensor(data, dtype, device)
        lower, upper = draw_rrelu_bounds(data)
        seed = data.draw(st.integers(0, 2**32), label="gen.seed")
        g = draw_grad(data, x)

        def gen():
            return torch.Generator(device=device).manual_seed(seed)

        out, noise = ops.rrelu_with_noise(x, lower, upper, True, gen())
        check_elementwise_layout(out, x)
        assert noise.shape == x.shape and noise.dtype == dtype and noise.stride() == out.stride()
        xd = x.detach()
        neg = xd <= 0
        assert bool((noise[xd > 0] == 1).all()), f"noise must be 1 where x > 0, {desc}"
        assert bool(torch.isnan(noise[torch.isnan(xd)]).all()), f"noise must be NaN where x is NaN, {desc}"
        # The slopes within [lower, upper] as the op sees them (in the op-math type, then rounded to dtype).
        om = torch.float64 if dtype == torch.float64 else torch.float32
        lo = torch.tensor(lower, dtype=om).to(dtype).double().item()
        hi = torch.tensor(upper, dtype=om).to(dtype).double().item()
        s = noise[neg].double()
        assert bool(((s >= lo) & (s <= hi)).all()), f"slopes outside [{lo}, {hi}]: {s.tolist()[:8]}, {desc}"
        # Output: x * slope where x <= 0, x elsewhere, exactly. float32 and float64: the slope is the noise. half and
        # bfloat16 draw float slopes (float32's for the same seed and memory positions), multiply in float and round
        # once; the noise holds the slope rounded.
        slopes = noise
        if dtype in REDUCED_DTYPES:
            x32 = torch.empty_like(x, dtype=torch.float32).copy_(x)
            _, slopes = ops.rrelu_with_noise(x32, lower, upper, True, gen())
            assert_close(noise, slopes.to(dtype), rtol=0, atol=0, msg=lambda m: f"noise vs float's, {desc}: {m}")
        product = torch.where(neg, (xd.to(om) * slopes.to(om)).to(dtype), xd)
        assert_close(out, product, rtol=0, atol=0, msg=lambda m: f"rrelu train output vs x * slope, {desc}: {m}")
        assert_nan_positions(out, product, f"rrelu train forward, {desc}")
        # The same seed through autograd: the same draw, and the gradient ATen's rrelu_with_noise_backward gives
        # for that noise.
        y, (gx,) = grad_of(lambda t: ops.rrelu(t, lower, upper, True, gen()), x, g)
        assert_bitwise_equal(y, out, f"rrelu train through autograd, {desc}")
        expected = aten.rrelu_with_noise_backward(g, xd, noise, lower, upper, True, False)
        assert_close(gx, expected, rtol=0, atol=0, msg=lambda m: f"rrelu train backward, {desc}: {m}")
        check_in_place(x, lambda z: ops.rrelu_(z, lower, upper, True, gen()), out, f"rrelu train in place, {desc}")

    @FUZZ
    @given(data=st.data())
    def test_softmax_log_softmax(self, device, data):
        dtype = draw_dtype(data)
        x, desc = draw_tensor(data, dtype, device)
        row = data.draw(st.sampled_from(_rows("softmax")), label="row")
        name = row.name
        log = name == "log_softmax"  # (the formulas of the float64 references below)
        ext, ref = row.op, row.ref
        n = max(x.dim(), 1)
        dim = data.draw(st.integers(-n, n - 1), label="dim")
        out_dtype = data.draw(st.sampled_from([None, None] + DTYPES), label="out_dtype")
        result_dtype = out_dtype or dtype
        like = torch.empty(x.shape, dtype=result_dtype, device=device)
        g = draw_grad(data, like)

        out, (gx,) = grad_of(lambda t: ext(t, dim, out_dtype), x, g)
        expected, (gx_ref,) = grad_of(lambda t: ref(t, dim, out_dtype), x, g)
        assert out.shape == x.shape and out.dtype == result_dtype and gx.dtype == dtype
        where = f"{name}, {desc}, dim {dim}, dtype {out_dtype}"
        # The coarser of the input's and the result's dtypes: the value went through both.
        coarse = max(dtype, result_dtype, key=lambda d: torch.finfo(d).eps)
        n = x.shape[dim] if x.dim() else 1
        # Against float64 from the values the op reads (the dtype cast comes first), rounded once.
        xr = x.to(result_dtype).double()
        ref64 = (torch.log_softmax(xr, dim) if log else torch.softmax(xr, dim)).to(result_dtype)
        assert_close(out, ref64, dtype=coarse, msg=lambda m: f"{where}, forward vs float64: {m}")
        assert_nan_positions(out, ref64, f"{where}, forward vs float64")
        # Against PyTorch. ATen's half and bfloat16 log_softmax rounds log(sum) to the dtype: an ulp of it more.
        extra = 0.0
        if log and result_dtype in REDUCED_DTYPES:
            extra = torch.finfo(result_dtype).eps * (expected.double().abs() + math.log(max(n, 2)))
        assert_within(out, expected, tol(coarse), extra, f"{where}, forward vs torch")

        # Backward: the terms g_i and p_i * sum_j g_j (p = softmax) may cancel; allow a few ulps of op-math
        # (float, or double for float64) of their magnitudes, whatever the order of the sum. Against the float64
        # formula from our output, and against PyTorch's gradient, computed from PyTorch's output: that output may
        # differ by an ulp of the result's dtype (more for log_softmax, above), which moves every term by as much.
        p = (out.double().exp() if log else out.double()).nan_to_num(0.0, 0.0, 0.0)
        ga = g.double().abs()
        gsum = ga.sum(dim, keepdim=True) if x.dim() else ga
        both64 = dtype == torch.float64 and result_dtype == torch.float64
        eps = torch.finfo(torch.float64 if both64 else torch.float32).eps
        gd, yd = g.double(), out.double()
        if log:
            back64 = gd - torch.exp(yd) * (gd.sum(dim, keepdim=True) if x.dim() else gd)
        else:
            back64 = yd * (gd - ((gd * yd).sum(dim, keepdim=True) if x.dim() else gd * yd))
        assert_within(gx, back64.to(dtype), tol(coarse), 8 * eps * (ga + p * gsum), f"{where}, backward vs float64")
        eps_y = max(eps, torch.finfo(result_dtype).eps)
        yabs = yd.abs().nan_to_num(0.0, 0.0, 0.0) if log else 0.0
        slack = 8 * eps_y * (ga + p * (yabs + 1) * gsum)
        if log and result_dtype in REDUCED_DTYPES:
            slack = slack + p * gsum * torch.finfo(result_dtype).eps * (yabs + math.log(max(n, 2)))
        assert_within(gx, gx_ref, tol(coarse), slack, f"{where}, backward vs torch")


def assert_within(actual, expected, tolerance, extra, what):
    """|actual - expected| <= atol + rtol * |expected| + extra elementwise; NaN meets NaN, an infinity the same
    infinity."""
    a, e = actual.detach().double().cpu(), expected.detach().double().cpu()
    extra = extra.cpu() if isinstance(extra, torch.Tensor) else extra
    allowed = tolerance["atol"] + tolerance["rtol"] * e.abs() + extra
    nan = torch.isnan(a) | torch.isnan(e)
    bad = nan & (torch.isnan(a) != torch.isnan(e))
    inf = ~nan & (torch.isinf(a) | torch.isinf(e))
    bad |= inf & (a != e)
    bad |= ~nan & ~inf & ((a - e).abs() > allowed)
    if bool(bad.any()):
        i = bad.nonzero()[0].tolist()
        raise AssertionError(f"{what}: {int(bad.sum())} of {a.numel()} differ, first at {i}: {a[tuple(i)].item()!r} "
                             f"vs {e[tuple(i)].item()!r}")
