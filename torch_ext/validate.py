"""Validation report: every torch_ext op against torch.nn.functional, and its gradients by
numerical differentiation.

    python -m torch_ext.validate [--device cpu|cuda|all] [--size N]

For each op, device and dtype it prints the largest error of the forward and of the backward
against torch.nn.functional (relative to the dtype's tolerance), then gradcheck and
gradgradcheck in float64. Exits 1 if any check fails.
"""

import argparse
import sys
from dataclasses import dataclass
from typing import Callable, List, Optional

import torch
import torch.nn.functional as F

import torch_ext
import torch_ext.functional as TF

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
# (rtol, atol) per dtype, as torch.testing.assert_close's defaults.
TOLERANCES = {
    torch.float32: (1.3e-6, 1e-5),
    torch.float64: (1e-7, 1e-7),
    torch.float16: (1e-3, 1e-5),
    torch.bfloat16: (1.6e-2, 1e-5),
}


@dataclass
class OpCase:
    name: str
    ours: Callable[[torch.Tensor], torch.Tensor]
    reference: Callable[[torch.Tensor], torch.Tensor]
    # (rtol, atol) per dtype where TOLERANCES does not fit the op; None: TOLERANCES.
    tolerance: Optional[Callable[[torch.dtype], tuple]] = None


CASES: List[OpCase] = [
    OpCase("elu(alpha=1)", lambda x: TF.elu(x), lambda x: F.elu(x)),
    OpCase("elu(alpha=0.5)", lambda x: TF.elu(x, 0.5), lambda x: F.elu(x, 0.5)),
    OpCase("celu(alpha=2)", lambda x: TF.celu(x, 2.0), lambda x: F.celu(x, 2.0)),
    OpCase("selu", lambda x: TF.selu(x), lambda x: F.selu(x)),
    OpCase("elu_(inplace)", lambda x: TF.elu(x.clone(), 1.0, inplace=True), lambda x: F.elu(x.clone(), 1.0, inplace=True)),
    OpCase("prelu(C=1)", lambda x: TF.prelu(x, _weight(x, 1)), lambda x: F.prelu(x, _weight(x, 1))),
    OpCase("prelu(C=8)", lambda x: TF.prelu(x.view(-1, 8, 2), _weight(x, 8)).view_as(x),
           lambda x: F.prelu(x.view(-1, 8, 2), _weight(x, 8)).view_as(x)),
    OpCase("rrelu(eval)", lambda x: TF.rrelu(x, 0.1, 0.3), lambda x: F.rrelu(x, 0.1, 0.3)),
    OpCase("rrelu(train, l=u)", lambda x: TF.rrelu(x, 0.2, 0.2, training=True), lambda x: F.leaky_relu(x, 0.2)),
    OpCase("softplus", lambda x: TF.softplus(x), lambda x: F.softplus(x)),
    OpCase("softplus(b=2,t=5)", lambda x: TF.softplus(x, 2.0, 5.0), lambda x: F.softplus(x, 2.0, 5.0)),
    # Over rows of 8 (the last dim) and over columns (dim 0).
    OpCase("softmax(dim=-1)", lambda x: TF.softmax(_rows(x), -1).view_as(x), lambda x: F.softmax(_rows(x), -1).view_as(x),
           lambda dtype: _softmax_tolerance(dtype, log=False)),
    OpCase("softmax(dim=0)", lambda x: TF.softmax(_rows(x), 0).view_as(x), lambda x: F.softmax(_rows(x), 0).view_as(x),
           lambda dtype: _softmax_tolerance(dtype, log=False)),
    OpCase("log_softmax(dim=-1)", lambda x: TF.log_softmax(_rows(x), -1).view_as(x),
           lambda x: F.log_softmax(_rows(x), -1).view_as(x), lambda dtype: _softmax_tolerance(dtype, log=True)),
    OpCase("log_softmax(dim=0)", lambda x: TF.log_softmax(_rows(x), 0).view_as(x),
           lambda x: F.log_softmax(_rows(x), 0).view_as(x), lambda dtype: _softmax_tolerance(dtype, log=True)),
]


def _rows(x: torch.Tensor) -> torch.Tensor:
    """x as rows of 8 (one row of all of x when its size is no multiple of 8)."""
    return x.view(-1, 8) if x.numel() % 8 == 0 else x.view(1, -1)


def _softmax_tolerance(dtype: torch.dtype, log: bool) -> tuple:
    """TOLERANCES, with an absolute floor for half and bfloat16, where the two sides round to the dtype at different
    points: an ulp of 1 for softmax (outputs <= 1, and the backward's g - sum(g * y)); for log_softmax ulps of
    |x - max| (up to ~16 here) and of log(sum): ATen rounds log(sum) to the dtype, and is off by hundreds of ulps
    near 0, where torch_ext rounds once from float."""
    rtol, atol = TOLERANCES[dtype]
    if dtype in (torch.float16, torch.bfloat16):
        atol = max(atol, torch.finfo(dtype).eps * (32 if log else 1))
    return rtol, atol


def _weight(x: torch.Tensor, channels: int) -> torch.Tensor:
    """PReLU weights in x's dtype and device: 1 or `channels` values spread over [-0.5, 0.5]."""
    return torch.linspace(-0.5, 0.5, channels, dtype=torch.float64).add_(0.25).to(dtype=x.dtype, device=x.device)


def error_ratio(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype, tolerance=None) -> tuple:
    """Largest |actual - expected| and its ratio to the allowed atol + rtol * |expected|."""
    rtol, atol = tolerance(dtype) if tolerance else TOLERANCES[dtype]
    a, e = actual.double(), expected.double()
    diff = (a - e).abs()
    allowed = atol + rtol * e.abs()
    return diff.max().item(), (diff / allowed).max().item()


def check_case(case: OpCase, device: str, dtype: torch.dtype, size: int, gen: torch.Generator) -> List[str]:
    x = torch.randn(size, generator=gen, dtype=torch.float64).mul_(3).to(device=device, dtype=dtype)
    g = torch.randn(size, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)
    xo = x.clone().requires_grad_()
    xr = x.clone().requires_grad_()
    yo, yr = case.ours(xo), case.reference(xr)
    (go,) = torch.autograd.grad(yo, xo, g)
    (gr,) = torch.autograd.grad(yr, xr, g)
    fwd_err, fwd_ratio = error_ratio(yo, yr, dtype, case.tolerance)
    bwd_err, bwd_ratio = error_ratio(go, gr, dtype, case.tolerance)
    ok = fwd_ratio <= 1 and bwd_ratio <= 1
    return [case.name, device, str(dtype).replace("torch.", ""), f"{fwd_err:.2e}", f"{bwd_err:.2e}",
            "ok" if ok else "FAIL"]


def check_gradients(case: OpCase, device: str, gen: torch.Generator) -> List[str]:
    x = torch.randn(32, generator=gen, dtype=torch.float64).mul_(2)
    x = torch.where(x.abs() < 0.1, x.sign() * 0.1 + x, x).to(device).requires_grad_()  # off the kink at 0
    grad = torch.autograd.gradcheck(case.ours, (x,), raise_exception=False)
    gradgrad = torch.autograd.gradgradcheck(case.ours, (x,), raise_exception=False)
    return [case.name, device, "pass" if grad else "FAIL", "pass" if gradgrad else "FAIL"]


def print_table(header: List[str], rows: List[List[str]]) -> None:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths))
    print(line)
    print("-" * len(line))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    parser.add_argument("--size", type=int, default=1 << 16, help="elements per parity check")
    args = parser.parse_args(argv)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    if not torch.cuda.is_available():
        if args.device == "cuda":
            print("validate: no CUDA device", file=sys.stderr)
            return 1
        devices = [d for d in devices if d != "cuda"]

    info = torch_ext.build_info()
    print(f"torch_ext {info['version']} on torch {info['torch_version']}: CPU kernels {info['cpu_capability']}, "
          f"CUDA {info['cuda']} (archs {info['cuda_archs'] or '-'}); devices: {', '.join(devices)}\n")

    gen = torch.Generator().manual_seed(0)
    parity = [check_case(c, d, t, args.size, gen) for c in CASES for d in devices for t in DTYPES]
    print(f"Parity with torch.nn.functional ({args.size} elements, max |error| of forward and backward):")
    print_table(["op", "device", "dtype", "fwd max err", "bwd max err", "within tol"], parity)

    grads = [check_gradients(c, d, gen) for c in CASES for d in devices]
    print("\nNumerical gradients (float64):")
    print_table(["op", "device", "gradcheck", "gradgradcheck"], grads)

    failed = sum(r[-1] == "FAIL" for r in parity) + sum("FAIL" in r for r in grads)
    total = len(parity) + 2 * len(grads)
    print(f"\n{total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
