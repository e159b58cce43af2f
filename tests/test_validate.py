"""The validation report: its verdicts can fail, and it covers every op. `make demo`'s own run of it (demo size,
seed, every device present) is test_demo.py's test_make_demo."""

import dataclasses
import re

import pytest
import torch
import torch.nn.functional as F

import torch_ext.demo.__main__ as demo
import torch_ext.validate as validate
from torch_ext.testing import op_db
from torch_ext.testing.loss_db import REDUCTIONS, loss_db
from common_utils import DEVICES

ELU = validate.CASES[0]


def _perturbed(case: validate.OpCase, relative: float) -> validate.OpCase:
    """case with torch_ext's side replaced by the float64 truth moved by `relative` and rounded to the dtype."""
    return validate.OpCase(case.name, lambda x: case.aten(x.double()).mul(1 + relative).to(x.dtype), case.aten,
                           case.bounds, dim=case.dim)


def _row(case, device, dtype, size=512):
    return validate.check_case(case, device, dtype, size, torch.Generator().manual_seed(0))


def test_demo_uses_the_reports_defaults():
    assert demo.build_parser().parse_args([]).validate_size == validate.DEFAULT_SIZE


@pytest.mark.parametrize("device", DEVICES)
def test_report_covers_every_op(device, capsys):
    assert validate.main(["--device", device, "--size", "512"]) == 0
    out = capsys.readouterr().out
    for column in validate.HEADER:
        assert column in out, column
    for case in validate.CASES:
        for dtype in validate.DTYPES:
            assert f"{case.name}  " in out and str(dtype).replace("torch.", "") in out
    assert "0 failed" in out
    names = {case.name.split("(")[0].rstrip("_") for case in validate.CASES}
    assert names == {row.functional for row in op_db}, "every row of the op table has a case in the report"
    for column in validate.LOSS_HEADER:
        assert column in out, column
    # Every loss of the loss table, at each reduction its samples have, in every dtype.
    for row in loss_db:
        reductions = {build(torch.float64, "cpu").reduction for build in row.samples.values()}
        for reduction in reductions:
            for dtype in validate.DTYPES:
                line = rf"^{re.escape(row.name)}\(reduction={reduction}\) +{device} +{str(dtype)[6:]} .* ok *$"
                assert re.search(line, out, re.M), f"{row.name} ({reduction}, {dtype}) is missing from the report"
    for column in validate.HSOFTMAX_HEADER:
        assert column in out, column
    for case in validate.HSOFTMAX_CASES:
        for dtype in validate.DTYPES:
            line = rf"^{re.escape(case.name)} +{device} +{str(dtype)[6:]} .* ok *$"
            assert re.search(line, out, re.M), f"{case.name} ({dtype}) is missing from the report"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", [ELU] + [c for c in validate.CASES if c.dim is not None], ids=lambda c: c.name)
def test_error_over_the_bound_fails(case, device):
    # 64 float32 ulps off every value: more than any of these bounds allows for the largest values at this size.
    row = _row(_perturbed(case, 64 * torch.finfo(torch.float32).eps), device, torch.float32)
    assert row.max_use > 1 and not row.ok, row.cells()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_clearly_worse_than_aten_fails(device, dtype):
    # Half the elementwise bound off every value: within the bound, but over 4x ATen's error.
    eps = validate.opmath_eps(dtype)
    row = _row(_perturbed(ELU, 0.5 * (validate.ELEMENTWISE_OPMATH_ULPS * eps + torch.finfo(dtype).eps)), device, dtype)
    assert row.max_use <= 1 and row.clearly_worse and not row.ok, row.cells()
    assert "worse than ATen" in row.cells()[-1]


def _perturbed_loss(case: validate.LossCase, relative: float) -> validate.LossCase:
    """case with torch_ext's side replaced by torch's loss in float64 moved by `relative` and rounded to the dtype."""

    def ours(x, t, **kwargs):
        kw64 = {k: v.double() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
        t64 = t.double() if t.is_floating_point() else t  # class indices stay int64
        return case.aten(x.double(), t64, **kw64).mul(1 + relative).to(x.dtype)

    return dataclasses.replace(case, ours=ours)


def test_every_reduction_of_every_loss_has_a_case():
    assert {(c.row.name, c.name.split("reduction=")[1].rstrip(")")) for c in validate.LOSS_CASES} == {
        (row.name, r) for row in loss_db for r in REDUCTIONS}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", validate.LOSS_CASES, ids=lambda c: c.name)
def test_loss_error_over_the_bound_fails(case, device):
    # 64 float32 ulps off the loss and its gradients: over the bound of 4 ulps of the terms' magnitudes.
    row = validate.check_loss_case(_perturbed_loss(case, 64 * torch.finfo(torch.float32).eps), device,
                                   torch.float32, torch.Generator().manual_seed(0))
    assert row.max_use > 1 and not row.ok, row.cells()
    assert row.use[0] > 1 and row.use[1] > 1 and row.use[2] > 1, row.cells()


def test_loss_clearly_worse_than_aten_fails():
    # Half the float32 bound off: within it, but over 4x ATen's error on the unreduced loss.
    case = next(c for c in validate.LOSS_CASES if c.name.endswith("(reduction=none)"))
    row = validate.check_loss_case(_perturbed_loss(case, 0.5 * validate.LOSS_ULPS * torch.finfo(torch.float32).eps),
                                   "cpu", torch.float32, torch.Generator().manual_seed(0))
    assert row.max_use <= 1 and row.clearly_worse and not row.ok, row.cells()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("relative, fails", [(64 * torch.finfo(torch.float32).eps, True), (0.0, False)])
def test_hsoftmax_error_over_the_bound_fails(device, relative, fails):
    # torch_ext's side replaced by the float64 truth moved by `relative` (and rounded to float32): 64 ulps is over
    # the bound of the loss and both gradients; the truth itself, rounded, is within it.
    case = validate.HSOFTMAX_CASES[0]

    def moved(x, w, b, *rest):
        f = lambda t: None if t is None else t.double()  # noqa: E731
        return (case.plain(f(x), f(w), f(b), *rest) * (1 + relative)).to(x.dtype)

    row = validate.check_hsoftmax_case(dataclasses.replace(case, ours=moved), device, torch.float32,
                                       torch.Generator().manual_seed(0))
    assert (not row.ok) == fails and all((u > 1) == fails for u in row.use), row.cells()


def test_a_failing_loss_row_fails_the_report(monkeypatch, capsys):
    monkeypatch.setattr(validate, "CASES", [])
    monkeypatch.setattr(validate, "LOSS_CASES", [_perturbed_loss(validate.LOSS_CASES[0],
                                                                  64 * torch.finfo(torch.float32).eps)])
    assert validate.main(["--device", "cpu", "--size", "512"]) == 1
    assert "FAIL (over bound)" in capsys.readouterr().out


def test_a_failing_row_fails_the_report_and_the_demo(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(validate, "CASES", [_perturbed(ELU, 64 * torch.finfo(torch.float32).eps)])
    assert validate.main(["--device", "cpu", "--size", "512"]) == 1
    out = capsys.readouterr().out
    assert "FAIL (over bound)" in out and out.rstrip().endswith("failed") and "\n0 failed" not in out
    rc = demo.main(["--out", str(tmp_path), "--epochs", "1", "--min-accuracy", "0", "--formats", "", "--no-progress"])
    assert rc == 1 and "demo: FAILED: Validation report" in capsys.readouterr().out


def test_float64_truth_is_the_function_not_aten_in_dtype():
    # ATen in float16 against the float64 truth has errors of float16's size; torch_ext's float16 ELU is
    # within one float16 ulp of it (computed in float, rounded once).
    row = _row(ELU, "cpu", torch.float16)
    assert row.aten[0] > 0 and row.ours[0] > 0
    assert row.ok, row.cells()


def test_gradient_checks_fail_for_a_wrong_gradient():
    class WrongGrad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return F.elu(x)

        @staticmethod
        def backward(ctx, g):
            return g * 1.01

    case = validate.OpCase("wrong", WrongGrad.apply, F.elu, validate.elementwise_bounds())
    row = validate.check_gradients(case, "cpu", torch.Generator().manual_seed(0))
    assert row[2] == "FAIL"
