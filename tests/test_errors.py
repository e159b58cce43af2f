"""Every invalid input and the error it gets (issue #8, "Errors").

``ERROR_CASES`` is the table: each row makes one bad call (through ``torch_ext.functional``, the
``torch_ext.nn`` modules or the raw ``torch.ops.torch_ext`` ops, forward, in-place and backward) and
says which exception it must raise, which op and argument the message must name, and a regex for
what was expected and what was given. ``test_error`` runs each row and also checks that no input
was written (values and version counters unchanged). ``docs/errors.md`` is generated from the same
rows with real messages, and ``test_doc_is_current`` keeps it so. The loss table's error inputs
(``errors`` of ``torch_ext/testing/loss_db.py``) are rows too (``LOSS_CASES``):

    python tests/test_errors.py --write-doc docs/errors.md

Each call is a string of Python run with ``torch``, ``torch_ext``, ``ops = torch.ops.torch_ext`` and
``TF = torch_ext.functional`` in scope, so that the doc shows exactly the code that was run.
"""

import dataclasses
import re
import sys
from pathlib import Path
from typing import Optional

import pytest
import torch

import torch_ext
from torch_ext.testing import ErrorCalls, op_db
from torch_ext.testing.loss_db import loss_db

CUDA_AVAILABLE = torch.cuda.is_available()
DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "errors.md"


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    setup: str  # statements that make the inputs; must not raise
    call: str  # the bad call (a statement)
    exc: type  # the exact exception type
    # The message starts with "<op>: " and names the argument (a regex). None: a loss table's row, whose regex
    # alone says what the message is (some are torch's Python checks, which name no op).
    op: Optional[str]
    arg: Optional[str]
    match: str  # regex: what was expected and what was given
    cuda: bool = False  # runs only where CUDA is available

    @property
    def code(self) -> str:
        return f"{self.setup}; {self.call}" if self.setup else self.call


def _namespace() -> dict:
    return {"torch": torch, "torch_ext": torch_ext, "ops": torch.ops.torch_ext, "TF": torch_ext.functional}


def _snapshot(ns: dict) -> dict:
    snap = {}
    for name, value in ns.items():
        if isinstance(value, torch.Tensor):
            data = None if value.device.type == "meta" else value.detach().clone()
            snap[name] = (value._version, data)
    return snap


def run_case(case: Case):
    """Runs the case; returns (the exception or None, the namespace, the inputs' snapshot)."""
    ns = _namespace()
    exec(case.setup, ns)
    before = _snapshot(ns)
    try:
        exec(case.call, ns)
    except Exception as e:  # noqa: BLE001 (the exception is the result)
        return e, ns, before
    return None, ns, before


def first_line(err: BaseException) -> str:
    lines = str(err).splitlines()
    return lines[0] if lines else ""


def assert_inputs_unchanged(case: Case, ns: dict, before: dict) -> None:
    for name, (version, data) in before.items():
        t = ns[name]
        assert t._version == version, f"{case.id}: {name} was written (version {version} -> {t._version})"
        if data is not None:
            assert torch.equal(t.detach(), data), f"{case.id}: {name} was changed by the failed call"


# --------------------------------------------------------------------------------------------------
# The table.

FLOATING = r"a floating-point tensor \(float32, float64, float16 or bfloat16\)"
FLOATING_DTYPE = r"a floating-point dtype \(float32, float64, float16 or bfloat16\)"
CUDA_DEVICE = r"cuda(:\d+)?"

# (id, a tensor of that dtype with 6 elements, the dtype as the message prints it)
BAD_DTYPES = [
    ("integer", "torch.arange(-3, 3)", "Long"),
    ("bool", "torch.arange(6) % 2 == 0", "Bool"),
    ("complex", "torch.randn(6, dtype=torch.complex64)", "ComplexFloat"),
]

# The bad-dtype calls of every op, from the op table's rows (torch_ext.testing.op_db, ErrorCalls): forward and
# in-place calls on x, (id, call, the op the message names); the Python faces of the same calls (run on one bad
# dtype: they forward to the ops above); through each op's Autograd kernel (a complex tensor can require grad; y is
# not a leaf); backward ops with the bad tensor x in one position and a good float g elsewhere, (id, call, op, the
# argument x is). A row without them fails tests/test_ops.py::test_every_row_fills_the_table_fields.
_ERROR_CALLS = [row.error_calls for row in op_db if isinstance(row.error_calls, ErrorCalls)]
RAW_CALLS = [c for calls in _ERROR_CALLS for c in calls.forward]
WRAPPER_CALLS = [c for calls in _ERROR_CALLS for c in calls.wrappers]
AUTOGRAD_CALLS = [c for calls in _ERROR_CALLS for c in calls.autograd]
BACKWARD_CALLS = [c for calls in _ERROR_CALLS for c in calls.backward]


def _expected_self(entry: tuple, dname: str):
    """What the message of a forward entry (ErrorCalls.forward/autograd) says self is expected to be for the bad
    dtype dname, or None where the op takes that dtype."""
    if len(entry) == 3:
        return FLOATING
    return entry[3].get(dname)


def _dtype_cases() -> list:
    cases = []
    for dname, make, printed in BAD_DTYPES:
        calls = RAW_CALLS + (WRAPPER_CALLS if dname == "integer" else [])
        for entry in calls:
            cid, call, op = entry[:3]
            expected = _expected_self(entry, dname)
            if expected is None:
                continue
            hint = "; pass dtype to compute it in a floating-point dtype" if "softmax" in op else ""
            cases.append(Case(f"{cid}/self-{dname}", f"x = {make}", call, RuntimeError, op, "self",
                              rf"expected self to be {expected}, got {printed}{re.escape(hint)}$"))
        for cid, call, op, arg in BACKWARD_CALLS:
            cases.append(Case(f"{cid}/{arg}-{dname}", f"x = {make}; g = torch.randn(6)", call, RuntimeError, op, arg,
                              rf"expected {arg} to be {FLOATING}, got {printed}$"))
    for entry in AUTOGRAD_CALLS:
        cid, call, op = entry[:3]
        hint = "; pass dtype to compute it in a floating-point dtype" if "softmax" in op else ""
        cases.append(Case(f"{cid}/self-complex", "x = torch.randn(6, dtype=torch.complex64, requires_grad=True); "
                          "y = x * 1", call, RuntimeError, op, "self",
                          rf"expected self to be {_expected_self(entry, 'complex')}, got ComplexFloat{re.escape(hint)}$"))
    for op in ("softmax", "log_softmax"):
        cases.append(Case(f"{op}/self-complex-with-dtype", "x = torch.randn(6, dtype=torch.complex64)",
                          f"ops.{op}(x, 0, torch.float32)", RuntimeError, op, "self",
                          r"expected self to be a floating-point or integer tensor, got ComplexFloat$"))
    return cases


def _device_cases() -> list:
    cases = []
    for dev in ("meta", "cuda"):
        d = CUDA_DEVICE if dev == "cuda" else "meta"
        cuda = dev == "cuda"
        rows = [
            # (id, setup, call, op, arg, match)
            ("prelu/weight-" + dev, f"x = torch.randn(2, 3); w = torch.rand(3, device='{dev}')", "ops.prelu(x, w)",
             "prelu", "weight", rf"expected weight to be on the device of self \(cpu\), got {d}$"),
            ("prelu/self-" + dev, f"x = torch.randn(2, 3, device='{dev}'); w = torch.rand(3)", "ops.prelu(x, w)",
             "prelu", "weight", rf"expected weight to be on the device of self \({d}\), got cpu$"),
            ("prelu_backward/weight-" + dev, f"g = torch.randn(2, 3); x = torch.randn(2, 3); "
             f"w = torch.rand(3, device='{dev}')", "ops.prelu_backward(g, x, w)", "prelu_backward", "weight",
             rf"expected weight to be on the device of self \(cpu\), got {d}$"),
            ("prelu_backward/grad_output-" + dev, f"g = torch.randn(2, 3, device='{dev}'); x = torch.randn(2, 3); "
             "w = torch.rand(3)", "ops.prelu_backward(g, x, w)", "prelu_backward", "self",
             rf"expected self to be on the device of grad_output \({d}\), got cpu$"),
            ("elu_backward/self_or_result-" + dev, f"g = torch.randn(6); x = torch.randn(6, device='{dev}')",
             "ops.elu_backward(g, 1.0, 1.0, 1.0, False, x)", "elu_backward", "self_or_result",
             rf"expected self_or_result to be on the device of grad_output \(cpu\), got {d}$"),
            ("softplus_backward/self-" + dev, f"g = torch.randn(6); x = torch.randn(6, device='{dev}')",
             "ops.softplus_backward(g, x, 1.0, 20.0)", "softplus_backward", "self",
             rf"expected self to be on the device of grad_output \(cpu\), got {d}$"),
            ("rrelu_backward/self_or_result-" + dev, f"g = torch.randn(6); x = torch.randn(6, device='{dev}')",
             "ops.rrelu_backward(g, x, None, 0.125, 0.25, False, False)", "rrelu_backward", "self_or_result",
             rf"expected self_or_result to be on the device of grad_output \(cpu\), got {d}$"),
            ("rrelu_backward/noise-" + dev, f"g = torch.randn(6); n = torch.rand(6, device='{dev}')",
             "ops.rrelu_backward(g, None, n, 0.125, 0.25, True, False)", "rrelu_backward", "noise",
             rf"expected noise to be on the device of grad_output \(cpu\), got {d}$"),
            ("softmax_backward/output-" + dev, f"g = torch.randn(6); y = torch.rand(6, device='{dev}')",
             "ops.softmax_backward(g, y, 0, torch.float32)", "softmax_backward", "output",
             rf"expected output to be on the device of grad_output \(cpu\), got {d}$"),
            ("log_softmax_backward/output-" + dev, f"g = torch.randn(6); y = torch.rand(6, device='{dev}')",
             "ops.log_softmax_backward(g, y, 0, torch.float32)", "log_softmax_backward", "output",
             rf"expected output to be on the device of grad_output \(cpu\), got {d}$"),
        ]
        if dev == "meta":
            rows += [
                ("prelu/functional/weight-meta", "x = torch.randn(2, 3); w = torch.rand(3, device='meta')",
                 "torch_ext.functional.prelu(x, w)", "prelu", "weight",
                 r"expected weight to be on the device of self \(cpu\), got meta$"),
                ("prelu/nn/weight-meta", "x = torch.randn(2, 3)", "torch_ext.nn.PReLU(3, device='meta')(x)", "prelu",
                 "weight", r"expected weight to be on the device of self \(cpu\), got meta$"),
                ("prelu/autograd/weight-meta", "x = torch.randn(2, 3, requires_grad=True); "
                 "w = torch.rand(3, device='meta', requires_grad=True)", "ops.prelu(x, w)", "prelu", "weight",
                 r"expected weight to be on the device of self \(cpu\), got meta$"),
            ]
        else:
            rows += [
                ("prelu/nn/weight-cuda", "x = torch.randn(2, 3)", "torch_ext.nn.PReLU(3, device='cuda')(x)",
                 "prelu", "weight", rf"expected weight to be on the device of self \(cpu\), got {d}$"),
                ("elu_backward/grad_output-cuda", "g = torch.randn(6, device='cuda'); x = torch.randn(6)",
                 "ops.elu_backward(g, 1.0, 1.0, 1.0, False, x)", "elu_backward", "self_or_result",
                 rf"expected self_or_result to be on the device of grad_output \({d}\), got cpu$"),
            ]
        cases += [Case(i, s, c, RuntimeError, o, a, m, cuda=cuda) for i, s, c, o, a, m in rows]
    return cases


def _prelu_weight_cases() -> list:
    size = r"weight must have 1 or 3 elements \(the size of dim 1 of self\), got {}$"
    rank = r"expected weight to be 0-d or 1-D \(one weight, or one per channel\), got a 2-D weight of shape \[1, 3\]$"
    dtype = r"expected weight to have the dtype of self \(Float\), got {}$"
    rows = [
        ("prelu/weight-size", "x = torch.randn(2, 3, 4); w = torch.rand(4)", "ops.prelu(x, w)", "prelu",
         size.format(4)),
        ("prelu/weight-size-empty", "x = torch.randn(2, 3); w = torch.rand(0)", "ops.prelu(x, w)", "prelu",
         size.format(0)),
        ("prelu/weight-size-1d-self", "x = torch.randn(3); w = torch.rand(3)", "ops.prelu(x, w)", "prelu",
         r"weight must have 1 element for a 1-D self \(a 1-D input is one channel\), got 3$"),
        ("prelu/weight-size-0d-self", "x = torch.randn(()); w = torch.rand(3)", "ops.prelu(x, w)", "prelu",
         r"weight must have 1 element for a 0-d self, got 3$"),
        ("prelu/functional/weight-size", "x = torch.randn(2, 3); w = torch.rand(4)",
         "torch_ext.functional.prelu(x, w)", "prelu", size.format(4)),
        ("prelu/nn/weight-size", "x = torch.randn(2, 3)", "torch_ext.nn.PReLU(4)(x)", "prelu", size.format(4)),
        ("prelu/autograd/weight-size",
         "x = torch.randn(2, 3, requires_grad=True); w = torch.rand(4, requires_grad=True)",
         "ops.prelu(x, w)", "prelu", size.format(4)),
        ("prelu/meta/weight-size", "x = torch.randn(2, 3, device='meta'); w = torch.rand(4, device='meta')",
         "ops.prelu(x, w)", "prelu", size.format(4)),
        ("prelu_backward/weight-size", "g = torch.randn(2, 3); x = torch.randn(2, 3); w = torch.rand(4)",
         "ops.prelu_backward(g, x, w)", "prelu_backward", size.format(4)),
        ("prelu/weight-rank", "x = torch.randn(2, 3); w = torch.rand(1, 3)", "ops.prelu(x, w)", "prelu", rank),
        ("prelu/functional/weight-rank", "x = torch.randn(2, 3); w = torch.rand(1, 3)",
         "torch_ext.functional.prelu(x, w)", "prelu", rank),
        ("prelu_backward/weight-rank", "g = torch.randn(2, 3); x = torch.randn(2, 3); w = torch.rand(1, 3)",
         "ops.prelu_backward(g, x, w)", "prelu_backward", rank),
        ("prelu/weight-float64", "x = torch.randn(2, 3); w = torch.rand(3, dtype=torch.float64)", "ops.prelu(x, w)",
         "prelu", dtype.format("Double")),
        ("prelu/weight-integer", "x = torch.randn(2, 3); w = torch.ones(3, dtype=torch.int64)", "ops.prelu(x, w)",
         "prelu", dtype.format("Long")),
        ("prelu/weight-complex", "x = torch.randn(2, 3); w = torch.rand(3, dtype=torch.complex64)",
         "ops.prelu(x, w)", "prelu", dtype.format("ComplexFloat")),
        ("prelu/nn/weight-float64", "x = torch.randn(2, 3)", "torch_ext.nn.PReLU(3, dtype=torch.float64)(x)",
         "prelu", dtype.format("Double")),
        ("prelu_backward/weight-float64", "g = torch.randn(2, 3); x = torch.randn(2, 3); "
         "w = torch.rand(3, dtype=torch.float64)", "ops.prelu_backward(g, x, w)", "prelu_backward",
         dtype.format("Double")),
    ]
    return [Case(i, s, c, RuntimeError, o, "weight", m) for i, s, c, o, m in rows]


def _dim_cases() -> list:
    cases = []
    out_of_range = r"Dimension out of range \(expected to be in range of \[{}, {}\], but got {}\)$"
    for op in ("softmax", "log_softmax"):
        mod = "Softmax" if op == "softmax" else "LogSoftmax"
        rows = [
            (f"{op}/dim-2", "x = torch.randn(2, 3)", f"ops.{op}(x, 2, None)", op, (-2, 1, 2)),
            (f"{op}/dim-minus-3", "x = torch.randn(2, 3)", f"ops.{op}(x, -3, None)", op, (-2, 1, -3)),
            (f"{op}/dim-1-of-0d", "x = torch.randn(())", f"ops.{op}(x, 1, None)", op, (-1, 0, 1)),
            (f"{op}/functional/dim-5", "x = torch.randn(2, 3)", f"torch_ext.functional.{op}(x, dim=5)", op,
             (-2, 1, 5)),
            (f"{op}/nn/dim-3", "x = torch.randn(2, 3)", f"torch_ext.nn.{mod}(dim=3)(x)", op, (-2, 1, 3)),
            (f"{op}/meta/dim-2", "x = torch.randn(2, 3, device='meta')", f"ops.{op}(x, 2, None)", op, (-2, 1, 2)),
            (f"{op}_backward/dim-2", "g = torch.randn(2, 3); y = torch.rand(2, 3)",
             f"ops.{op}_backward(g, y, 2, torch.float32)", f"{op}_backward", (-2, 1, 2)),
        ]
        cases += [Case(i, s, c, IndexError, o, "Dimension", out_of_range.format(*r)) for i, s, c, o, r in rows]
    return cases


def _rrelu_bound_cases() -> list:
    variants = [
        ("rrelu/train", "ops.rrelu(x, {lo}, {hi}, True)", "rrelu"),
        ("rrelu/eval", "ops.rrelu(x, {lo}, {hi}, False)", "rrelu"),
        ("rrelu_/train", "ops.rrelu_(x, {lo}, {hi}, True)", "rrelu_"),
        ("rrelu_/eval", "ops.rrelu_(x, {lo}, {hi}, False)", "rrelu_"),
        ("rrelu_with_noise/train", "ops.rrelu_with_noise(x, {lo}, {hi}, True)", "rrelu_with_noise"),
        ("rrelu_with_noise_/train", "ops.rrelu_with_noise_(x, {lo}, {hi}, True)", "rrelu_with_noise_"),
        ("rrelu/functional-train", "torch_ext.functional.rrelu(x, {lo}, {hi}, training=True)", "rrelu"),
        ("rrelu/functional-eval", "torch_ext.functional.rrelu(x, {lo}, {hi})", "rrelu"),
        ("rrelu_/functional-train", "torch_ext.functional.rrelu(x, {lo}, {hi}, training=True, inplace=True)",
         "rrelu_"),
        ("rrelu/nn-train", "torch_ext.nn.RReLU({lo}, {hi})(x)", "rrelu"),
        ("rrelu/nn-eval", "torch_ext.nn.RReLU({lo}, {hi}).eval()(x)", "rrelu"),
    ]
    bounds = [
        ("bounds-inverted", "0.5", "0.1",
         r"expected lower <= upper \(the bounds of the uniform slope\), got lower = 0\.5 and upper = 0\.1$"),
        ("lower-nan", "float('nan')", "0.25",
         r"expected lower and upper \(the bounds of the uniform slope\) to be finite numbers, got lower = nan and "
         r"upper = 0\.25$"),
        ("upper-nan", "0.125", "float('nan')",
         r"expected lower and upper \(the bounds of the uniform slope\) to be finite numbers, got lower = 0\.125 and "
         r"upper = nan$"),
    ]
    cases = []
    for bid, lo, hi, match in bounds:
        for vid, call, op in variants:
            cases.append(Case(f"{vid}/{bid}", "x = torch.randn(2, 3)", call.format(lo=lo, hi=hi), RuntimeError, op,
                              "lower", match))
    cases.append(Case("rrelu/meta/bounds-inverted", "x = torch.randn(2, 3, device='meta')",
                      "ops.rrelu(x, 0.5, 0.1, True)", RuntimeError, "rrelu", "lower", bounds[0][3]))
    cases.append(Case("rrelu/autograd-eval/bounds-inverted", "x = torch.randn(2, 3, requires_grad=True)",
                      "ops.rrelu(x, 0.5, 0.1, False)", RuntimeError, "rrelu", "lower", bounds[0][3]))
    return cases


def _celu_alpha_cases() -> list:
    zero = r"alpha cannot be 0 for CELU \(it divides the input\), got alpha = {}$"
    rows = [
        ("celu/alpha-zero", "x = torch.randn(2, 3)", "ops.celu(x, 0.0)", "0"),
        ("celu/alpha-negative-zero", "x = torch.randn(2, 3)", "ops.celu(x, -0.0)", "-0"),
        ("celu/functional/alpha-zero", "x = torch.randn(2, 3)", "torch_ext.functional.celu(x, alpha=0.0)", "0"),
        ("celu/nn/alpha-zero", "x = torch.randn(2, 3)", "torch_ext.nn.CELU(alpha=0.0)(x)", "0"),
        ("celu/autograd/alpha-zero", "x = torch.randn(2, 3, requires_grad=True)", "ops.celu(x, 0.0)", "0"),
        ("celu/meta/alpha-zero", "x = torch.randn(2, 3, device='meta')", "ops.celu(x, 0.0)", "0"),
    ]
    return [Case(i, s, c, RuntimeError, "celu", "alpha", zero.format(g)) for i, s, c, g in rows]


def _negative_slope_cases() -> list:
    # Allowed without autograd (as ATen); with autograd the in-place forward keeps only the result,
    # from which a negative slope cannot be undone: the backward refuses, as ATen's.
    elu = (r"in-place elu backward calculation is triggered with a negative slope \(alpha = -1\) which is not "
           r"supported\. This is caused by calling the in-place forward function with a negative slope, please call "
           r"the out-of-place version instead\.$")
    rrelu = (r"in-place rrelu backward calculation \(eval mode\) is triggered with a negative slope "
             r"\(\(lower \+ upper\) / 2 = -0\.3\) which is not supported\.")
    grad = "x = torch.randn(6, requires_grad=True); "
    rows = [
        ("elu_/negative-alpha-backward", grad + "y = x * 1; ops.elu_(y, -1.0)", "y.sum().backward()",
         "elu_backward", "alpha", elu),
        ("elu_/functional/negative-alpha-backward",
         grad + "y = torch_ext.functional.elu(x * 1, alpha=-1.0, inplace=True)", "y.sum().backward()",
         "elu_backward", "alpha", elu),
        ("elu_/nn/negative-alpha-backward", grad + "y = torch_ext.nn.ELU(alpha=-1.0, inplace=True)(x * 1)",
         "y.sum().backward()", "elu_backward", "alpha", elu),
        ("elu_backward/negative-alpha-is-result", "g = torch.randn(6); r = torch.randn(6)",
         "ops.elu_backward(g, -1.0, 1.0, 1.0, True, r)", "elu_backward", "alpha", elu),
        ("rrelu_/eval/negative-slope-backward", grad + "y = x * 1; ops.rrelu_(y, -0.5, -0.1, False)",
         "y.sum().backward()", "rrelu_backward", "lower", rrelu),
        ("rrelu_backward/negative-slope-is-result", "g = torch.randn(6); r = torch.randn(6)",
         "ops.rrelu_backward(g, r, None, -0.5, -0.1, False, True)", "rrelu_backward", "lower", rrelu),
    ]
    return [Case(i, s, c, RuntimeError, o, a, m) for i, s, c, o, a, m in rows]


OVERLAP_CALLS = [
    ("elu_", "ops.elu_(x, 1.0)", "elu_"),
    ("elu_/functional", "torch_ext.functional.elu(x, inplace=True)", "elu_"),
    ("elu_/nn", "torch_ext.nn.ELU(inplace=True)(x)", "elu_"),
    ("rrelu_/train", "ops.rrelu_(x, 0.125, 0.25, True)", "rrelu_"),
    ("rrelu_/eval", "ops.rrelu_(x, 0.125, 0.25, False)", "rrelu_"),
    ("rrelu_with_noise_/train", "ops.rrelu_with_noise_(x, 0.125, 0.25, True)", "rrelu_with_noise_"),
    ("rrelu_with_noise_/eval", "ops.rrelu_with_noise_(x, 0.125, 0.25, False)", "rrelu_with_noise_"),
    ("rrelu_/functional-train", "torch_ext.functional.rrelu(x, training=True, inplace=True)", "rrelu_"),
    ("rrelu_/nn-train", "torch_ext.nn.RReLU(inplace=True)(x)", "rrelu_"),
]


def _overlap_cases() -> list:
    match = (r"self has elements that share memory \(an expanded view\); an in-place op cannot write it\. "
             r"Call \.clone\(\) first, or use the out-of-place op$")
    cases = [Case(f"{cid}/self-expanded", "b = torch.randn(1, 3); x = b.expand(2, 3)", call, RuntimeError, op,
                  "self", match) for cid, call, op in OVERLAP_CALLS]
    cases.append(Case("elu_/autograd/self-expanded",
                      "a = torch.randn(1, 3, requires_grad=True); x = (a * 1).expand(2, 3)",
                      "ops.elu_(x, 1.0)", RuntimeError, "elu_", "self", match))
    return cases


def _dtype_argument_cases() -> list:
    cases = []
    for op in ("softmax", "log_softmax"):
        for dt, printed in (("torch.int64", "Long"), ("torch.bool", "Bool"), ("torch.complex64", "ComplexFloat")):
            name = dt.split(".")[1]
            cases.append(Case(f"{op}/dtype-{name}", "x = torch.randn(2, 3)", f"ops.{op}(x, 1, {dt})", RuntimeError,
                              op, "dtype", rf"expected dtype to be {FLOATING_DTYPE}, got {printed}$"))
        rows = [
            (f"{op}/dtype-uint8-integer-self", "x = torch.arange(6)", f"ops.{op}(x, 0, torch.uint8)", op, "dtype",
             "Byte"),
            (f"{op}/functional/dtype-int64", "x = torch.randn(2, 3)",
             f"torch_ext.functional.{op}(x, dim=1, dtype=torch.int64)", op, "dtype", "Long"),
            (f"{op}/autograd/dtype-int64", "x = torch.randn(2, 3, requires_grad=True)", f"ops.{op}(x, 1, torch.int64)",
             op, "dtype", "Long"),
            (f"{op}/meta/dtype-int64", "x = torch.randn(2, 3, device='meta')", f"ops.{op}(x, 1, torch.int64)", op,
             "dtype", "Long"),
            (f"{op}_backward/input_dtype-int64", "g = torch.randn(2, 3); y = torch.rand(2, 3)",
             f"ops.{op}_backward(g, y, 1, torch.int64)", f"{op}_backward", "input_dtype", "Long"),
        ]
        cases += [Case(i, s, c, RuntimeError, o, a, rf"expected {a} to be {FLOATING_DTYPE}, got {p}$")
                  for i, s, c, o, a, p in rows]
    return cases


def _backward_mismatch_cases() -> list:
    # grad_output and the saved tensor must agree in shape and dtype (device: _device_cases).
    saved = [
        ("elu_backward", "ops.elu_backward(g, 1.0, 1.0, 1.0, False, {})", "self_or_result"),
        ("prelu_backward", "ops.prelu_backward(g, {0}, torch.tensor([0.25], dtype={0}.dtype))", "self"),
        ("rrelu_backward", "ops.rrelu_backward(g, None, {}, 0.125, 0.25, True, False)", "noise"),
        ("softplus_backward", "ops.softplus_backward(g, {}, 1.0, 20.0)", "self"),
        ("softmax_backward", "ops.softmax_backward(g, {}, 0, torch.float32)", "output"),
        ("log_softmax_backward", "ops.log_softmax_backward(g, {}, 0, torch.float32)", "output"),
    ]
    cases = []
    for op, call, arg in saved:
        cases.append(Case(f"{op}/{arg}-shape", "g = torch.randn(2, 3); s = torch.rand(3, 2)", call.format("s"),
                          RuntimeError, op, arg, rf"expected {arg} to have the shape of grad_output \[2, 3\], "
                          r"got \[3, 2\]$"))
        cases.append(Case(f"{op}/{arg}-float64", "g = torch.randn(2, 3); s = torch.rand(2, 3, dtype=torch.float64)",
                          call.format("s"), RuntimeError, op, arg,
                          rf"expected {arg} to have the dtype of grad_output \(Float\), got Double$"))
    cases += [
        Case("rrelu_backward/noise-missing", "g = torch.randn(6); x = torch.randn(6)",
             "ops.rrelu_backward(g, x, None, 0.125, 0.25, True, False)", RuntimeError, "rrelu_backward", "noise",
             r"training mode needs the noise tensor \(the slopes the forward drew\), got None$"),
        Case("rrelu_backward/self_or_result-missing", "g = torch.randn(6); n = torch.rand(6)",
             "ops.rrelu_backward(g, None, n, 0.125, 0.25, False, False)", RuntimeError, "rrelu_backward",
             "self_or_result", r"eval mode needs self_or_result \(the forward's input or in-place output\), got None$"),
    ]
    return cases


ERROR_CASES = (
    _dtype_cases()
    + _device_cases()
    + _prelu_weight_cases()
    + _dim_cases()
    + _rrelu_bound_cases()
    + _celu_alpha_cases()
    + _negative_slope_cases()
    + _overlap_cases()
    + _dtype_argument_cases()
    + _backward_mismatch_cases()
)


# --------------------------------------------------------------------------------------------------
# Calls that go through another op (celu and selu through elu; rrelu with autograd through
# rrelu_with_noise; in-place ops through autograd's checks): their messages still name the op called.
# Each row gives the whole message; "; ..." ends a row that checks only the message's start.


def _msg(id, setup, call, message, exc=RuntimeError):
    op, _, rest = message.partition(": ")
    arg = next(a for a in ("alpha", "lower", "self") if re.search(rf"\b{a}\b", rest))
    return Case(id, setup, call, exc, op=op, arg=arg, match=re.escape(rest.split("; ...")[0]))


_FLOAT_WORDS = "expected self to be a floating-point tensor (float32, float64, float16 or bfloat16), got "
_LEAF_WANT = ("{op}: expected self not to be a leaf tensor that requires grad (or a view of one), got {given} with "
              "requires_grad=True: an in-place op would overwrite the value autograd needs. Use the out-of-place "
              "op, or clone() first")
_INFINITE = ("{op}: expected lower and upper (the bounds of the uniform slope) to be finite numbers, got "
             "lower = {lower} and upper = {upper}")
_EXPANDED = "{op}: self has elements that share memory (an expanded view); ..."
THROUGH_OTHER_OPS = [
    # CELU and SELU are composites over elu: their checks run inside elu and name it.
    _msg("celu/self-integer", "x = torch.arange(-3, 3)", "ops.celu(x, 1.0)", "celu: " + _FLOAT_WORDS + "Long"),
    _msg("celu_/self-integer", "x = torch.arange(-3, 3)", "ops.celu_(x, 1.0)", "celu_: " + _FLOAT_WORDS + "Long"),
    _msg("selu/self-bool", "x = torch.arange(6) % 2 == 0", "ops.selu(x)", "selu: " + _FLOAT_WORDS + "Bool"),
    _msg("selu_/self-complex", "x = torch.randn(6, dtype=torch.complex64)", "ops.selu_(x)",
         "selu_: " + _FLOAT_WORDS + "ComplexFloat"),
    _msg("celu/nn/self-integer", "x = torch.arange(-3, 3)", "torch_ext.nn.CELU()(x)", "celu: " + _FLOAT_WORDS + "Long"),
    _msg("selu/functional/self-integer", "x = torch.arange(-3, 3)", "torch_ext.functional.selu(x)",
         "selu: " + _FLOAT_WORDS + "Long"),
    _msg("celu_/alpha-zero", "x = torch.randn(2, 3)", "ops.celu_(x, 0.0)",
         "celu_: alpha cannot be 0 for CELU (it divides the input), got alpha = 0"),
    _msg("celu_/functional/alpha-zero", "x = torch.randn(2, 3)", "torch_ext.functional.celu(x, 0.0, inplace=True)",
         "celu_: alpha cannot be 0 for CELU (it divides the input), got alpha = 0"),
    _msg("celu_/self-expanded", "b = torch.randn(1, 3); x = b.expand(2, 3)", "ops.celu_(x, 1.0)",
         "celu_: self has elements that share memory (an expanded view); ..."),
    _msg("selu_/nn/self-expanded", "b = torch.randn(1, 3); x = b.expand(2, 3)", "torch_ext.nn.SELU(inplace=True)(x)",
         "selu_: self has elements that share memory (an expanded view); ..."),
    # RReLU in training with autograd runs rrelu_with_noise(_), whose checks name it.
    _msg("rrelu/autograd-train/bounds-inverted", "x = torch.randn(2, 3, requires_grad=True)",
         "ops.rrelu(x, 0.5, 0.1, True)",
         "rrelu: expected lower <= upper (the bounds of the uniform slope), got lower = 0.5 and upper = 0.1"),
    _msg("rrelu/nn-train-autograd/bounds-inverted", "x = torch.randn(2, 3, requires_grad=True)",
         "torch_ext.nn.RReLU(0.5, 0.1)(x)",
         "rrelu: expected lower <= upper (the bounds of the uniform slope), got lower = 0.5 and upper = 0.1"),
    _msg("rrelu_/autograd-train/bounds-inverted", "x = torch.randn(2, 3, requires_grad=True); y = x * 1",
         "ops.rrelu_(y, 0.5, 0.1, True)",
         "rrelu_: expected lower <= upper (the bounds of the uniform slope), got lower = 0.5 and upper = 0.1"),
    _msg("rrelu/autograd-train/self-complex", "x = torch.randn(6, dtype=torch.complex64, requires_grad=True)",
         "ops.rrelu(x, 0.125, 0.25, True)", "rrelu: " + _FLOAT_WORDS + "ComplexFloat"),
    _msg("rrelu_/autograd-train/self-expanded", "a = torch.randn(1, 3, requires_grad=True); x = (a * 1).expand(2, 3)",
         "ops.rrelu_(x, 0.125, 0.25, True)", "rrelu_: self has elements that share memory (an expanded view); ..."),
    # In-place on a leaf that requires grad: ATen's words, which name neither the argument nor what
    # was expected and given; CELU and SELU also name elu_.
    _msg("elu_/self-leaf", "x = torch.randn(2, 3, requires_grad=True)", "ops.elu_(x, 1.0)",
         _LEAF_WANT.format(op="elu_", given="a leaf")),
    _msg("elu_/self-view-of-leaf", "x = torch.randn(2, 3, requires_grad=True)", "ops.elu_(x[0], 1.0)",
         _LEAF_WANT.format(op="elu_", given="a view of a leaf")),
    _msg("elu_/functional/self-leaf", "x = torch.randn(2, 3, requires_grad=True)",
         "torch_ext.functional.elu(x, inplace=True)", _LEAF_WANT.format(op="elu_", given="a leaf")),
    _msg("elu_/nn/self-leaf", "x = torch.randn(2, 3, requires_grad=True)", "torch_ext.nn.ELU(inplace=True)(x)",
         _LEAF_WANT.format(op="elu_", given="a leaf")),
    _msg("celu_/self-leaf", "x = torch.randn(2, 3, requires_grad=True)", "ops.celu_(x, 1.0)",
         _LEAF_WANT.format(op="celu_", given="a leaf")),
    _msg("selu_/nn/self-leaf", "x = torch.randn(2, 3, requires_grad=True)", "torch_ext.nn.SELU(inplace=True)(x)",
         _LEAF_WANT.format(op="selu_", given="a leaf")),
    _msg("rrelu_/train/self-leaf", "x = torch.randn(2, 3, requires_grad=True)", "ops.rrelu_(x, 0.125, 0.25, True)",
         _LEAF_WANT.format(op="rrelu_", given="a leaf")),
    _msg("rrelu_/eval/self-leaf", "x = torch.randn(2, 3, requires_grad=True)", "ops.rrelu_(x, 0.125, 0.25, False)",
         _LEAF_WANT.format(op="rrelu_", given="a leaf")),
    _msg("rrelu_/nn-train/self-leaf", "x = torch.randn(2, 3, requires_grad=True)",
         "torch_ext.nn.RReLU(inplace=True)(x)", _LEAF_WANT.format(op="rrelu_", given="a leaf")),
    _msg("rrelu_with_noise_/self-view-of-leaf", "x = torch.randn(2, 3, requires_grad=True)",
         "ops.rrelu_with_noise_(x[0], 0.125, 0.25, True)",
         _LEAF_WANT.format(op="rrelu_with_noise_", given="a view of a leaf")),
    # Infinite RReLU bounds (F.rrelu refuses them too).
    _msg("rrelu/train/bounds-infinite", "x = torch.randn(2, 3)", "ops.rrelu(x, float('-inf'), float('inf'), True)",
         _INFINITE.format(op="rrelu", lower="-inf", upper="inf")),
    _msg("rrelu/eval/upper-infinite", "x = torch.randn(2, 3)", "ops.rrelu(x, 0.0, float('inf'), False)",
         _INFINITE.format(op="rrelu", lower="0", upper="inf")),
    _msg("rrelu_/eval/lower-infinite", "x = torch.randn(2, 3)", "ops.rrelu_(x, float('-inf'), 0.25, False)",
         _INFINITE.format(op="rrelu_", lower="-inf", upper="0.25")),
    _msg("rrelu/autograd-train/bounds-infinite", "x = torch.randn(2, 3, requires_grad=True)",
         "ops.rrelu(x, float('-inf'), float('inf'), True)", _INFINITE.format(op="rrelu", lower="-inf", upper="inf")),
    _msg("rrelu/nn-train/lower-infinite", "x = torch.randn(2, 3)", "torch_ext.nn.RReLU(float('-inf'), 0.25)(x)",
         _INFINITE.format(op="rrelu", lower="-inf", upper="0.25")),
    # In-place on an expanded view seen by the meta kernels (FakeTensor, torch.compile).
    _msg("elu_/meta/self-expanded", "b = torch.randn(1, 3, device='meta'); x = b.expand(2, 3)", "ops.elu_(x, 1.0)",
         _EXPANDED.format(op="elu_")),
    _msg("rrelu_/meta/self-expanded", "b = torch.randn(1, 3, device='meta'); x = b.expand(2, 3)",
         "ops.rrelu_(x, 0.125, 0.25, False)", _EXPANDED.format(op="rrelu_")),
    _msg("rrelu_with_noise_/meta/self-expanded", "b = torch.randn(1, 3, device='meta'); x = b.expand(2, 3)",
         "ops.rrelu_with_noise_(x, 0.125, 0.25, True)", _EXPANDED.format(op="rrelu_with_noise_")),
]


ERROR_CASES += THROUGH_OTHER_OPS


# --------------------------------------------------------------------------------------------------
# The losses: each row's error inputs in the loss table (torch_ext.testing.loss_db, also run by
# tests/test_losses.py::test_error_messages), with the tensors its statements use: x (float32 [4, 3]),
# t (x's target), i (an int64 [4, 3]), as the table defines them.

_LOSS_TENSORS = (("x", "torch.randn(4, 3)"), ("t", "torch.rand(4, 3)"), ("i", "torch.ones(4, 3, dtype=torch.int64)"))


def _loss_cases() -> list:
    cases = []
    for row in loss_db:
        for index, (stmt, exc, match) in enumerate(row.errors):
            setup = "; ".join(f"{name} = {make}" for name, make in _LOSS_TENSORS if re.search(rf"\b{name}\b", stmt))
            cases.append(Case(f"{row.name}/loss_db-{index}", setup, stmt, exc, None, None, match))
    return cases


LOSS_CASES = _loss_cases()
ERROR_CASES += LOSS_CASES


# --------------------------------------------------------------------------------------------------
# Tests.

requires_cuda = pytest.mark.skipif(not CUDA_AVAILABLE, reason="CUDA is not available on this machine")


def _params(cases):
    return [pytest.param(c, id=c.id, marks=[requires_cuda] if c.cuda else []) for c in cases]


def test_ids_are_unique():
    ids = [c.id for c in ERROR_CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("case", _params(ERROR_CASES))
def test_error(case: Case):
    err, ns, before = run_case(case)
    assert err is not None, f"{case.code}: raised nothing"
    line = first_line(err)
    assert type(err) is case.exc, f"{case.code}: raised {type(err).__name__} ({line}), expected {case.exc.__name__}"
    if case.op is not None:
        assert line.startswith(case.op + ": "), f"the message does not start with the op {case.op!r}: {line}"
        assert re.search(rf"\b{case.arg}\b", line), f"the message does not name the argument {case.arg!r}: {line}"
    assert re.search(case.match, line), f"the message does not match {case.match!r}: {line}"
    assert_inputs_unchanged(case, ns, before)


# --------------------------------------------------------------------------------------------------
# docs/errors.md


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def _error_text(case: Case) -> str:
    err, _, _ = run_case(case)
    if err is None:
        return "(no error)"
    return f"{type(err).__name__}: {first_line(err)}"


def render_doc() -> str:
    torch.manual_seed(0)
    lines = [
        "# Errors",
        "",
        "Every invalid input that torch_ext refuses, and the error it gets. Each row is a case of",
        "`ERROR_CASES` in `tests/test_errors.py`, whose test checks the exception type, that the message",
        "names the op and the argument, what was expected and what was given, and that the call wrote",
        "nothing (every input keeps its values and version counter). The error column is the first line of",
        "the message from a real run. `ops` is `torch.ops.torch_ext`, `TF` is `torch_ext.functional`. Regenerate with",
        "",
        "```bash",
        "python tests/test_errors.py --write-doc docs/errors.md",
        "```",
        "",
        "`test_doc_is_current` fails when this file differs from what the cases give.",
        "",
        "Categories: integer, bool and complex tensors (`self-integer`, `…-bool`, `…-complex`, and each",
        "tensor argument of the backward ops); inputs and weights on different devices (`-meta`, `-cuda`);",
        "PReLU weights of the wrong size, rank or dtype; dims out of range; RReLU bounds inverted, NaN or infinite;",
        "CELU alpha 0; in-place ELU (and eval RReLU) with a negative slope under autograd, refused by the",
        "backward as in PyTorch; in-place ops on an expanded view; a `dtype` that is not floating; backward",
        "inputs that disagree in shape or dtype. `functional`, `nn`, `autograd` (an input that requires",
        "grad) and `meta` in an id name the path taken; ids without them call the raw op on CPU.",
        "",
        "The losses' rows (`<loss>/loss_db-<n>`, last) are the error inputs of the loss table",
        "(`errors` in `torch_ext/testing/loss_db.py`): their messages are checked against the table's regex",
        "(some come from torch's Python checks, which name no op), and that the call wrote nothing.",
        "",
        "Rows marked *CUDA only* run where CUDA is available; their error column is the regex the message",
        "must match, not a captured message.",
        "",
        "| id | call | error |",
        "|---|---|---|",
    ]
    for case in ERROR_CASES:
        if case.cuda:
            error = "*CUDA only*: " + _cell(f"RuntimeError: {case.op}: …{case.match}")
        else:
            error = _cell(_error_text(case))
        lines.append(f"| `{case.id}` | {_cell(case.code)} | {error} |")
    return "\n".join(lines) + "\n"


def test_doc_is_current():
    assert DOC_PATH.exists(), f"{DOC_PATH} is missing: python tests/test_errors.py --write-doc docs/errors.md"
    assert DOC_PATH.read_text() == render_doc(), (
        f"{DOC_PATH} is stale: python tests/test_errors.py --write-doc docs/errors.md"
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-doc", metavar="PATH", help="write the table of errors (docs/errors.md)")
    args = parser.parse_args()
    if not args.write_doc:
        parser.error("nothing to do: pass --write-doc PATH")
    Path(args.write_doc).parent.mkdir(parents=True, exist_ok=True)
    Path(args.write_doc).write_text(render_doc())
    print(f"wrote {args.write_doc}: {len(ERROR_CASES)} cases")
    sys.exit(0)
