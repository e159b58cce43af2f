"""FastVecMath (csrc/ops/cpu/vec_math.h): the CPU kernels' own float exp, expm1 and log1p, held to the
error bounds stated there, against float64, on a dense sample of every float and exhaustively where the
error peaks, under each compiled CPU ISA. (bench/vec_math_exhaustive.cpp checks every float.)

The functions are reached through the ops that use them, with arguments that make the op the bare
function: elu(x, alpha=1, scale=1, input_scale=s) is expm1(s * x) for x <= 0, elu_backward(1, 1, 1, s,
False, x) is s * exp(s * x) for x <= 0 (s = 1 and s = -1 cover both signs), and softplus(x) (beta 1) is
log1p(exp(x)) for x <= 0 and x + log1p(exp(-x)) above: its log1p sees (0, 1].
"""

import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
import torch

from common_utils import run_with_cpu_isa

TESTS_DIR = pathlib.Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent

# The bounds of vec_math.h, in float32 ulps of the exact result, for the builds with FMA (AVX2, AVX512)
# and without (DEFAULT): (exp, expm1).
BOUNDS = {"AVX512": (1.05, 1.61), "AVX2": (1.05, 1.61), "DEFAULT": (1.03, 1.73)}
# softplus = log1p(exp(.)) (+ x): exp's error, log1p's (0.82 ulp; 0.93 DEFAULT) and the final rounding.
SOFTPLUS_ULPS = 2.0

_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    import torch_ext

    isa = sys.argv[1]
    exp_bound, expm1_bound, softplus_bound = float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    assert torch_ext.build_info()["cpu_capability"] == isa, (torch_ext.build_info(), isa)
    ops = torch.ops.torch_ext
    STRIDE = 509  # bit-pattern stride of the dense sample (prime: no mantissa pattern class missed)
    CHUNK = 1 << 22

    def floats(lo_bits, hi_bits, stride):
        # float32 values whose int32 bit patterns run from lo_bits to hi_bits (exclusive)
        return torch.arange(lo_bits, hi_bits, stride, dtype=torch.int64).to(torch.int32).view(torch.float32)

    def ulp_error(y, ref):
        # |y - ref| in ulps of float32 at ref; inf where y misses a special value (NaN, inf, signed 0).
        ref32 = ref.float()
        m, e = torch.frexp(ref.abs())
        ulp = torch.ldexp(torch.ones_like(ref), (e - 24).clamp(min=-149))
        err = ((y.double() - ref).abs() / ulp).nan_to_num(nan=0.0, posinf=0.0)
        special = torch.isnan(ref) | torch.isinf(ref32) | (ref32 == 0)
        same = torch.where(torch.isnan(ref), torch.isnan(y),
                           (y == ref32) & (torch.signbit(y) == torch.signbit(ref32)))
        finite_miss = ~special & ~torch.isfinite(y)
        err = torch.where(special, torch.where(same, 0.0, float("inf")), err)
        return torch.where(finite_miss, float("inf"), err)

    def worst(fn, x):
        top, at = 0.0, None
        for part in x.split(CHUNK):
            y, ref = fn(part)
            err = ulp_error(y, ref)
            i = int(err.argmax())
            if float(err[i]) > top:
                top, at = float(err[i]), float(part[i])
        return top, at

    def expm1_neg(x):  # x <= 0: expm1(x)
        return ops.elu(x, 1.0, 1.0, 1.0), torch.expm1(x.double())

    def expm1_pos(x):  # x <= 0: expm1(-x)
        return ops.elu(x, 1.0, 1.0, -1.0), torch.expm1(-x.double())

    def exp_neg(x):  # x <= 0: exp(x)
        one = torch.ones_like(x)
        return ops.elu_backward(one, 1.0, 1.0, 1.0, False, x), torch.exp(x.double())

    def exp_pos(x):  # x <= 0: -exp(-x)
        one = torch.ones_like(x)
        return ops.elu_backward(one, 1.0, 1.0, -1.0, False, x), -torch.exp(-x.double())

    def softplus(x):
        xd = x.double()
        return ops.softplus(x, 1.0, 1e30), torch.log1p(torch.exp(-xd.abs())) + xd.clamp(min=0)

    negatives = floats(-(1 << 31), 0, STRIDE)  # -0 ... -inf and the negative NaNs
    positives = floats(0, 0x7F800001, STRIDE)  # +0 ... +inf
    # Exhaustive where the error peaks: expm1 near 0.39 (k = 1 with r < 0), log1p's argument near 0.42.
    near_peak = floats(0x3EC00000, 0x3EE00000, 1)  # [0.375, 0.4375)
    results = {
        # NB: elu_backward sends NaN to either branch depending on the ISA: not exp's business.
        "exp x <= 0": worst(exp_neg, negatives[~negatives.isnan()]),
        "exp x >= 0": worst(exp_pos, -positives),
        "expm1 x <= 0": worst(expm1_neg, negatives),
        "expm1 x >= 0": worst(expm1_pos, -positives),
        "expm1 [0.375, 0.4375)": worst(expm1_pos, -near_peak),
        "softplus": worst(softplus, torch.cat([negatives[negatives.abs() < 200], positives[positives < 200]])),
        "softplus [-1, -0.75)": worst(softplus, -floats(0x3F400000, 0x3F800000, 1)),
    }
    for name, (err, at) in results.items():
        print(f"{isa} {name}: max {err:.3f} ulp at x = {at}")
        bound = {"exp": exp_bound, "expm1": expm1_bound, "softplus": softplus_bound}[name.split()[0]]
        assert err <= bound, f"{isa} {name}: {err} ulp at x = {at}, over the bound {bound}"

    # Special values: expm1(+-0) = +-0, expm1(-inf) = -1, expm1(+inf) = +inf, overflow past log(max), NaN.
    x = torch.tensor([-0.0, float("-inf"), float("nan")])
    y = ops.elu(x, 1.0, 1.0, 1.0)
    assert torch.signbit(y[0]) and y[0] == 0 and y[1] == -1 and torch.isnan(y[2]), y
    x = torch.tensor([-0.0, float("-inf"), -88.72283, -88.72284, -100.0])
    y = ops.elu(x, 1.0, 1.0, -1.0)  # expm1(-x)
    assert y[0] == 0 and not torch.signbit(y[0]) and y[1] == float("inf"), y
    assert torch.isfinite(y[2]) and float(y[2]) > 3.4e38 and y[3] == float("inf") and y[4] == float("inf"), y
    # exp: exp(-inf) = 0, exp(+inf) = +inf (as -exp(-x) at x = -inf), past the overflow, subnormal.
    x = torch.tensor([float("-inf"), -0.0, -88.72284, -100.0])
    y = ops.elu_backward(torch.ones_like(x), 1.0, 1.0, 1.0, False, x)
    assert y[0] == 0 and y[1] == 1 and 0 < float(y[3]) < 1.2e-38, y
    y = ops.elu_backward(torch.ones_like(x), 1.0, 1.0, -1.0, False, x)
    assert y[0] == float("-inf") and y[1] == -1 and y[2] == float("-inf") and y[3] == float("-inf"), y
    print("OK")
    """
)


def _run(isa: str):
    args = (*map(str, BOUNDS[isa]), str(SOFTPLUS_ULPS))
    if torch.backends.cpu.get_cpu_capability() != isa:
        run_with_cpu_isa(isa.lower(), _SCRIPT, *args)
        return
    # This process's own ISA: the same script, in a subprocess too (it holds a few hundred MB).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS_DIR)]))
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, isa, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert proc.stdout.strip().endswith("OK"), proc.stdout


@pytest.mark.parametrize("isa", ["DEFAULT", "AVX2", "AVX512"])
def test_exp_expm1_log1p_error_bounds(isa):
    """Dense sample of every float, exhaustive near the peaks, special values; each compiled ISA."""
    _run(isa)
