"""The op table: one row per torch_ext op (and per mode where the mode changes the op, RReLU's training and eval),
in the spirit of torch's OpInfo (torch/testing/_internal/opinfo/core.py), kept small.

A row says what the op is (its torch_ext call, its torch reference, the registered ops it covers, its layer and the
torch.nn twin), how to call every registered op it covers on a sample (``op_calls``), which samples to call it on
(``samples``: shapes, strides, memory formats and parameters; ``large_samples``: inputs big enough to take the
parallel and vectorized paths; ``parity_samples``, ``special_samples`` and ``gradcheck_samples``: the reference
checks' inputs over the op's argument grid), its dtypes and tolerances, what a kernel of it must never call
(``forbidden_aten``) and its rows of the validation report. tests/test_ops.py and tests/test_op_db.py run the checks
every op shares over it; the validation report (torch_ext.validate) and the benchmark (torch_ext.bench.cases) read it
too. What is particular to an op stays in its own test file (tests/test_<family>.py).

Adding an op: one row here. tests/test_ops.py::test_every_op_has_a_row fails until there is one.
"""

import dataclasses
import weakref
from typing import Callable, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

import torch_ext.functional as TF
import torch_ext.nn as TN
import torch_ext.testing.reference as reference
from torch_ext.testing.inputs import (
    ALL_LAYOUTS,
    FLOAT_DTYPES,
    LARGE_LAYOUTS,
    PRELU_CASES,
    PRELU_WEIGHTS,
    TOLERANCES,
    away_from_zero_values,
    grad_output,
    make_input,
    make_prelu_case,
    normal_values,
    special_values,
    values_with_specials,
    weight_values,
)

ops = torch.ops.torch_ext
aten = torch.ops.aten

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@dataclasses.dataclass
class SampleInput:
    """One call's arguments: the input, further positional arguments (tensors or not) and keyword arguments."""

    input: torch.Tensor
    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)

    @property
    def tensors(self) -> List[torch.Tensor]:
        return [self.input] + [a for a in self.args if isinstance(a, torch.Tensor)]

    def replace_tensors(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> "SampleInput":
        """The same sample with fn applied to each tensor (e.g. a meta twin, a detached copy)."""
        input = fn(self.input)  # first: fn may count the tensors
        args = tuple(fn(a) if isinstance(a, torch.Tensor) else a for a in self.args)
        return SampleInput(input, args, dict(self.kwargs))


# A sample builder: (dtype, device) -> SampleInput. Rows keep builders, not tensors, so that the table costs nothing
# to import and each test makes its own inputs.
SampleBuilder = Callable[[torch.dtype, str], SampleInput]
# op_calls(sample, g, writable_copy) -> [(op name, thunk)]: every registered op a row covers, called on the sample
# (g: a grad_output of the forward's shape; writable_copy(t): a fresh tensor with t's layout for an in-place op).
OpCalls = Callable[[SampleInput, torch.Tensor, Callable], List[Tuple[str, Callable[[], object]]]]


@dataclasses.dataclass(frozen=True)
class OptOut:
    """A row's answer for a field a family of table-driven tests needs, where the family does not apply to the row:
    the tests skip the row with this reason (tests/test_ops.py::test_every_row_fills_the_table_fields)."""

    reason: str


@dataclasses.dataclass(frozen=True)
class ModuleInfo:
    """The torch_ext.nn layer of a row, its torch.nn twin (same name) and the constructor arguments that matter."""

    name: str  # the class name in torch_ext.nn and in torch.nn
    ctor_kwargs: dict  # non-default arguments, so that a lost constant shows (convert, autocast, the bench's model)
    constants: Tuple[str, ...]  # the constructor arguments a converted layer must keep
    # Constructor calls (args, kwargs) the module tests make (repr, state_dict, copy, pickle against torch.nn's):
    # defaults, positional and keyword forms.
    ctor_args: Tuple[Tuple[tuple, dict], ...] = ()
    # The twin where torch.nn has none (the step units): a pure-PyTorch reference (torch_ext.testing.reference).
    twin: Optional[type] = None
    # Sizes the module tests insert between the batch and the feature dim of their (batch, features) inputs, for a
    # layer that takes only some ranks: Softmax2d's (N, C, H, W), softmax over C.
    inner_dims: Tuple[int, ...] = ()

    @property
    def cls(self) -> type:
        return getattr(TN, self.name)

    @property
    def torch_cls(self) -> type:
        return self.twin or getattr(nn, self.name)


@dataclasses.dataclass(frozen=True)
class ErrorCalls:
    """The calls of a row's ops that tests/test_errors.py makes with a tensor of a bad dtype, each a Python statement
    (the doc, docs/errors.md, shows it) with ``torch``, ``torch_ext`` and ``ops`` in scope: ``x`` the bad tensor,
    ``g`` a good float tensor, ``y`` = x * 1 of a complex x that requires grad. Each entry: (id, call, the op the
    message names), and for ``backward`` also the argument x is."""

    # The raw forward and in-place ops on x (integer, bool, complex). An entry may end with a dict
    # {bad dtype id: what the message says self is expected to be (a regex)} where the op takes some of those dtypes
    # (sigmoid takes integers and bools, relu integers): only those dtypes are tried. Default: every bad dtype, and
    # "a floating-point tensor (float32, ...)".
    forward: Tuple[tuple, ...]
    wrappers: Tuple[Tuple[str, str, str], ...] = ()  # torch_ext.functional and torch_ext.nn on x (integer)
    autograd: Tuple[tuple, ...] = ()  # the raw op on y (complex), through its Autograd kernel; as forward's entries
    backward: Tuple[Tuple[str, str, str, str], ...] = ()  # the backward op with x in one tensor argument


# An opcheck call: sample -> (the registered op's overload, its arguments, whether it writes its first argument), or
# None where the call is not made on that sample.
OpcheckCall = Callable[[SampleInput], Optional[Tuple[object, tuple, bool]]]


@dataclasses.dataclass(frozen=True)
class OpcheckInfo:
    """What tests/test_ops.py::test_opcheck runs torch.library.opcheck on (schema, autograd registration, fake
    tensors, AOT dispatch): each named call on each (sample name, dtype), with and without requires_grad (in-place
    calls without)."""

    samples: Tuple[Tuple[str, torch.dtype], ...]
    calls: Dict[str, OpcheckCall]


def _strided_grad(x: torch.Tensor) -> torch.Tensor:
    """A grad_output with x's strides (channels_last for a channels_last x)."""
    return torch.empty_like(x).copy_(grad_output(x))


@dataclasses.dataclass(frozen=True)
class AutogradInfo:
    """What tests/test_autograd.py calls a row with (forward-mode AD against the twin's, a NaN input's gradient,
    vmap and jacfwd without PyTorch's fallback, and the backward ops' forward AD): op(x, *args(x)) against
    twin(x, *args(x)), x a small input whose dim 1 has 3 elements; in place too where the row has an in-place op
    (on the first entry of ``args``)."""

    # {case: x -> the arguments after x}: a case each, named "<row>" for "" and "<row>_<case>" otherwise (a weight
    # in x's dtype and device for prelu; softmax's dtype argument).
    args: Dict[str, Callable[[torch.Tensor], tuple]]
    # The call the tangents are compared with where ref is not one functorch transforms (RReLU: leaky_relu at the
    # mean slope, with lower == upper in training, as torch's rrelu has no forward AD under vmap); None: ref.
    twin: Optional[Callable] = None
    # The op a refused forward-over-reverse names, where it is not decomposed_op or forward_op (RReLU in training:
    # TF.rrelu calls ops.rrelu); its in-place form names it with "_".
    refused_as: Optional[str] = None
    # Whether each output element reads its own input element alone (softmax's rows: False): a NaN input leaves the
    # others' gradients finite.
    elementwise: bool = True


@dataclasses.dataclass(frozen=True)
class LargeInfo:
    """How tests/test_large.py runs a row on tensors of more than 2**31 elements (64-bit indexing), in one dtype
    (float16 or bfloat16: the kernels are templates over the dtype, and the two share their indexing). kind: the
    test's body, "elementwise" (forward, backward op and in place over a flat input, checked at windows against
    ref on the windows alone), "softmax" (over the last and a middle dim), or a body of the row's own ("prelu", its
    weight gradient's reduction; "rrelu_train", the Philox draws by index)."""

    kind: str
    dtype: torch.dtype
    args: tuple = ()  # the arguments after x ("elementwise")
    # (ours, its reference): "elementwise", each f(grad_output, x, y, *args) (None: bench_backward's); "softmax",
    # each f(grad_output, output, dim, input dtype).
    backward: Optional[tuple] = None
    ref: Optional[Callable] = None  # the forward's reference where it is not ref (RReLU's eval: leaky_relu)


@dataclasses.dataclass(frozen=True)
class AutocastPolicy:
    """The autocast policy of a row's forward op: the ATen op whose policy it follows (its kernels' keys must be that
    op's) and the autocast keys it has a kernel for (ATen's lists, written out so that a lost kernel shows)."""

    twin: str  # e.g. "softmax.int"
    keys: frozenset  # of "AutocastCPU", "AutocastCUDA"


@dataclasses.dataclass(frozen=True)
class ValidationCase:
    """A row of the validation report: ours(x) and aten(x) over a flat float64-drawn x, judged against the bound
    named by ``bounds`` ("elementwise", "elementwise_saves_output", "softmax", "log_softmax" or "swish_sign",
    SwishSign's surrogate at beta 5); dim: the reduced
    dim of the report's rows of 8, for softmax."""

    name: str
    ours: Callable[[torch.Tensor], torch.Tensor]
    aten: Callable[[torch.Tensor], torch.Tensor]
    bounds: str = "elementwise"
    dim: Optional[int] = None
    # The function the report's numerical-gradient checks (gradcheck, gradgradcheck in float64) apply to; None: ours.
    # A step's surrogate gradient is not its forward's derivative: its backward op is checked instead.
    gradcheck: Optional[Callable[[torch.Tensor], torch.Tensor]] = None


@dataclasses.dataclass(frozen=True)
class OpInfo:
    name: str  # the row's name; also the benchmark's op name
    family: str  # the per-op test module, tests/test_<family>.py, holds what is particular to the op
    functional: str  # torch_ext.functional's (and torch.nn.functional's) function
    op: Callable  # the torch_ext call in this row's mode: op(input, *args, **kwargs)
    ref: Callable  # torch's call with the same arguments
    forward_op: str  # the registered op `op` dispatches to
    backward_op: str  # the registered op its autograd backward calls
    ops: Tuple[str, ...]  # every registered op the row covers (their out= overloads included)
    op_calls: OpCalls
    samples: Dict[str, SampleBuilder]  # small samples over layouts and parameters (Meta vs real, ...)
    large_samples: Dict[str, SampleBuilder]  # parallel and vectorized paths (side streams, profiling)
    autograd_function: str  # the C++ autograd Function's name, as grad_fn.name() shows it
    forbidden_aten: frozenset  # ATen ops its kernels must not call (ATen is the reference only)
    module: ModuleInfo
    inplace: Optional[Callable] = None  # the in-place torch_ext call (returns its input)
    inplace_op: Optional[str] = None  # the registered op `inplace` dispatches to
    random: bool = False  # draws random numbers: compared with itself under one seed, not with torch
    small_sample: str = "contiguous"  # the sample of the cheap checks (grad mode)
    dtypes: Tuple[torch.dtype, ...] = FLOAT_DTYPES
    tolerances: Dict[torch.dtype, dict] = dataclasses.field(default_factory=lambda: dict(TOLERANCES))
    validation: Tuple[ValidationCase, ...] = ()
    autocast: Optional[AutocastPolicy] = None  # None: missing (the completeness test fails)
    # The benchmark's call: op(x, *bench_args) against ref(x, *bench_args) (the functional's defaults, where it has
    # arguments); None: missing.
    bench_args: Optional[object] = None  # a tuple, or an OptOut
    error_calls: Optional[object] = None  # ErrorCalls, or an OptOut; None: missing
    # Inputs of tests/test_ops.py::test_thread_count_independent (every op of the row, 1, 2 and 3 threads, bit for
    # bit): the parallel paths, special values mixed in where the op is element-wise. None: missing.
    thread_samples: Optional[object] = None
    # The torch_ext op the layer's exported graph calls after torch.export's default decompositions (None: the
    # forward op; celu and selu are composites over elu).
    decomposed_op: Optional[str] = None
    opcheck: Optional[object] = None  # OpcheckInfo, or an OptOut; None: missing
    # The raw backward ops the benchmark times for an elementwise row, (ours, ATen's), each called as
    # f(grad_output, x, y, *bench_args) with y = ref(x, *bench_args); or an OptOut (a family's own builder in
    # torch_ext.bench.cases). None: missing.
    bench_backward: Optional[object] = None
    bench_input_scale: float = 1.0  # the benchmark draws x as randn * this (softplus: both sides of its bend)
    # The reference families of tests/test_op_db.py (each a Dict[str, SampleBuilder], or an OptOut; None: missing).
    # parity_samples: every layout under each point of the row's argument grid, special values mixed in: forward,
    # backward and double backward against ref and against ref in float64, in place against out of place, and the
    # kernels of each CPU ISA.
    parity_samples: Optional[object] = None
    # special_samples: special_values(dtype) alone under each point of the argument grid: forward and backward
    # against ref in float64 to a few ulps.
    special_samples: Optional[object] = None
    # gradcheck_samples: a few small inputs off the op's kinks (float64 is asked for): gradcheck with forward and
    # backward AD, and gradgradcheck, of `op` and of `inplace`.
    gradcheck_samples: Optional[object] = None
    # inplace_backward_allowed(args): whether autograd through `inplace` with these arguments is allowed (the ELU
    # family with alpha < 0 and RReLU's eval with a negative slope refuse it: the backward recovers the input from
    # the output); an OptOut where the row has no in-place op; None: missing.
    inplace_backward_allowed: Optional[object] = None
    # zero_signs_like_ref(args): whether a zero output has the sign of ref's (ELU with alpha < 0 maps +0 to
    # alpha * expm1(+0) = -0, where ATen gives +0); an OptOut where the row has no parity samples; None: missing.
    zero_signs_like_ref: Optional[object] = None
    # Whether a NaN input gets a NaN gradient (the rule of the ELU family, PReLU, RReLU, softplus and softmax, where
    # ATen's value depends on its kernel path); False: ATen's value, which its kernels agree on (relu's g where the
    # result is NaN, leaky_relu's g * negative_slope), as the op's semantics.
    nan_gradient_at_nan_input: bool = True
    # For a row whose backward reads the saved result (sigmoid, tanh), torch's backward op (g, y) -> grad_input: the
    # float64 truth of the input's gradient is it at the result rounded to the dtype, whose rounding is part of the op
    # (as in ATen: near saturation 1 - y has no digits left in the dtype). None: the float64 autograd of ref.
    backward_of_rounded_result: Optional[Callable] = None
    # (x64, *args) -> the backward's relative condition number in x per element, where its formula is
    # ill-conditioned (SwishSign near its zero): the special values' ulp bound against float64 scales by it.
    # None: 1.
    backward_condition: Optional[Callable] = None
    # Whether torch's CPU forward allocates a contiguous output whatever the input's layout (ATen's CPU
    # log_sigmoid_forward; its CUDA kernel keeps a dense input's layout, as every torch_ext kernel and Meta kernel
    # does on every device).
    ref_contiguous_on_cpu: bool = False
    # The row whose kernels this row's op only composes (softmin: softmax of -input; Softmax2d: softmax over dim -3):
    # the benchmark times that row, not this one. None: the row's own kernels.
    kernels_of: Optional[str] = None
    # What tests/test_autograd.py calls the row with: an AutogradInfo, or an OptOut; None: missing.
    autograd: Optional[object] = None
    # What tests/test_large.py runs the row with (more than 2**31 elements): a LargeInfo, or an OptOut; None: missing.
    large: Optional[object] = None
    # The benchmark's passes ("fwd", "bwd") of the row cheap enough to be held to a fraction of a copy's bandwidth
    # in float32 (torch_ext.bench.report.goals, issue #6); () none; None: missing.
    bench_copy_goal: Optional[Tuple[str, ...]] = None
    # The property test of tests/test_fuzz.py that draws the row's inputs and arguments: "elementwise" (the generic
    # one: forward and backward against ref over the arguments of parity_samples, in place), or a family's own
    # ("elu", "softplus", "prelu", "rrelu_eval", "rrelu_train", "softmax": its arguments' ranges and its known
    # differences from ATen); or an OptOut; None: missing.
    fuzz: Optional[object] = None


# --------------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------------

def _layout_samples(layouts, *args, **kwargs) -> Dict[str, SampleBuilder]:
    return {layout: (lambda dtype, device, layout=layout: SampleInput(make_input(layout, dtype, device), args,
                                                                    dict(kwargs)))
            for layout in layouts}


def _special_layout_samples(layouts, *args_grid) -> Dict[str, SampleBuilder]:
    """Each layout with special values mixed in, under each argument tuple of args_grid (named by it when there
    are several)."""
    out = {}
    for layout in layouts:
        for args in args_grid:
            name = layout if len(args_grid) == 1 else f"{layout}-{args}"
            out[name] = lambda dtype, device, layout=layout, args=args: SampleInput(
                make_input(layout, dtype, device, values=values_with_specials(dtype)), tuple(args))
    return out


def _prelu_samples(cases) -> Dict[str, SampleBuilder]:
    out = {}
    for case in cases:
        for weights in PRELU_WEIGHTS:
            if weights == "per_channel" and PRELU_CASES[case][1] == 1:
                continue  # one channel: per_channel is the single-weight case
            out[f"{case}-{weights}"] = lambda dtype, device, case=case, weights=weights: SampleInput(
                *_input_and_args(make_prelu_case(case, dtype, device, weights)))
    return out


_PRELU_SAMPLE_NAMES = frozenset(_prelu_samples(PRELU_CASES))


def _input_and_args(tensors):
    return tensors[0], tuple(tensors[1:])


_SOFTMAX_LAYOUTS = ("contiguous", "scalar_0d", "transposed", "channels_last", "expanded", "empty")


def _softmax_samples(layouts=_SOFTMAX_LAYOUTS) -> Dict[str, SampleBuilder]:
    """Every dim of a few layouts, with no dtype argument and with float32 and float64 ones."""
    out = {}
    for layout in layouts:
        ndim = make_input(layout, torch.float64, "meta").dim()
        for dim in range(-max(ndim, 1), max(ndim, 1)):
            for dtype_arg in (None, torch.float32, torch.float64):
                name = f"{layout}-dim{dim}-{str(dtype_arg).replace('torch.', '')}"
                out[name] = lambda dtype, device, layout=layout, dim=dim, dtype_arg=dtype_arg: SampleInput(
                    make_input(layout, dtype, device), (dim, dtype_arg))
    return out


def _shape_samples(shapes_and_args) -> Dict[str, SampleBuilder]:
    return {f"{tuple(shape)}-{args}": (lambda dtype, device, shape=shape, args=args: SampleInput(
        make_input(lambda v: v(shape), dtype, device), args)) for shape, args in shapes_and_args}


def _grid_samples(layouts, args_grid, values=None) -> Dict[str, SampleBuilder]:
    """Each layout under each argument tuple of args_grid (named by it when there are several); values(args,
    dtype): the value generator (default: normal values with special values mixed in)."""
    values = values or (lambda args, dtype: values_with_specials(dtype))
    out = {}
    for layout in layouts:
        for args in args_grid:
            name = layout if len(args_grid) == 1 else f"{layout}-{args}"
            out[name] = lambda dtype, device, layout=layout, args=args: SampleInput(
                make_input(layout, dtype, device, values=values(args, dtype)), tuple(args))
    return out


def _special_samples(args_grid) -> Dict[str, SampleBuilder]:
    """special_values(dtype) under each argument tuple of args_grid."""
    return {f"specials-{args}": (lambda dtype, device, args=args: SampleInput(special_values(dtype).to(device),
                                                                           tuple(args)))
            for args in args_grid}


# Small layouts for gradcheck (its cost grows with the element count): a dense one and a strided view.
GRADCHECK_LAYOUTS = {
    "contiguous": lambda values: values((3, 4)),
    "sliced_step2": lambda values: values((3, 8))[:, ::2],
}


def _gradcheck_samples(args_grid, values=None) -> Dict[str, SampleBuilder]:
    """GRADCHECK_LAYOUTS under each argument tuple; values(args): the value generator (default: away from 0)."""
    values = values or (lambda args: away_from_zero_values)
    return _grid_samples(GRADCHECK_LAYOUTS, args_grid, lambda args, dtype: values(args))


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------

# (alpha, scale, input_scale) of the elu an ELU-family call is, from the call's arguments (elu's and celu's alpha).
ELU_PARAMS: Dict[str, Callable[..., Tuple[float, float, float]]] = {
    "elu": lambda alpha=1.0: (alpha, 1.0, 1.0),
    "celu": lambda alpha=1.0: (alpha, 1.0, 1.0 / alpha),
    "selu": lambda: (SELU_ALPHA, SELU_SCALE, 1.0),
}

# elu with scale and input_scale (the raw op), its backward of the input and of the result, and the in-place ops.
_ELU_RAW = (0.5, 1.25, 0.75)
_ELU_OPCHECK = {
    "elu": OpcheckInfo(
        tuple((layout, torch.float32) for layout in ("contiguous", "channels_last", "transposed")),
        {"elu": lambda s: (ops.elu.default, (s.input, *_ELU_RAW), False),
         "elu(defaults)": lambda s: (ops.elu.default, (s.input,), False),
         "elu_backward(is_result=False)": lambda s: (
             ops.elu_backward.default, (_strided_grad(s.input), *_ELU_RAW, False, s.input), False),
         "elu_backward(is_result=True)": lambda s: (
             ops.elu_backward.default, (_strided_grad(s.input), *_ELU_RAW, True, aten.elu(s.input, *_ELU_RAW)), False),
         "elu_": lambda s: (ops.elu_.default, (s.input, *_ELU_RAW), True)}),
    "celu": OpcheckInfo((("contiguous", torch.float32),),
                        {"celu": lambda s: (ops.celu.default, (s.input, 0.5), False),
                         "celu_": lambda s: (ops.celu_.default, (s.input, 0.5), True)}),
    "selu": OpcheckInfo((("contiguous", torch.float32),),
                        {"selu": lambda s: (ops.selu.default, (s.input,), False),
                         "selu_": lambda s: (ops.selu_.default, (s.input,), True)}),
}

_ELU_FORBIDDEN = frozenset({"aten::elu", "aten::elu_", "aten::elu_backward", "aten::celu", "aten::selu",
                            "aten::expm1", "aten::exp"})


# The alphas of the reference families: the default, others with 1/alpha exact in float (torch's celu backward rounds
# 1/alpha to float, ours need not), and a negative one (no in-place backward).
ELU_ARGS_GRID = {"elu": ((1.0,), (0.5,), (2.0,), (-0.5,)), "celu": ((1.0,), (0.5,), (2.0,), (-2.0,)), "selu": ((),)}


# tests/test_large.py's arguments: a negative branch that is neither elu's default nor a multiple of it.
_LARGE_ELU_ARGS = {"elu": (0.5,), "celu": (2.0,), "selu": ()}


def _elu_row(name, alpha, fn, ref, inplace, module, validation, bench_args, error_calls) -> OpInfo:
    """elu, celu or selu: an elu(alpha, scale, input_scale) (params) with its own forward ops, elu_backward's
    backward."""
    args = () if alpha is None else (alpha,)
    params = ELU_PARAMS[name](*args)

    def op_calls(s, g, writable_copy):
        x = s.input
        calls = [(name, lambda: getattr(ops, name)(x, *s.args)),
                 ("elu_backward", lambda: ops.elu_backward(g, *params, False, x)),
                 ("elu_backward", lambda: ops.elu_backward(g, *params, True, getattr(ops, name)(x, *s.args)))]
        if torch._debug_has_internal_overlap(x) != 1:  # in place needs distinct elements
            calls.append((name + "_", lambda: getattr(ops, name + "_")(writable_copy(x), *s.args)))
        return calls

    return OpInfo(
        name=name, family="elu", functional=name, op=fn, ref=ref, forward_op=name, backward_op="elu_backward",
        ops=(name, name + "_") + (("elu_backward",) if name == "elu" else ()), op_calls=op_calls,
        samples=_layout_samples(ALL_LAYOUTS, *args), large_samples=_layout_samples(["large"], *args),
        autograd_function="AutogradKernels<torch_ext::ops::EluOp,", forbidden_aten=_ELU_FORBIDDEN, module=module,
        inplace=inplace, inplace_op=name + "_", validation=validation,
        thread_samples=_special_layout_samples(LARGE_LAYOUTS, args),
        autocast=AutocastPolicy(name, frozenset()), bench_args=bench_args, error_calls=error_calls,
        decomposed_op=None if name == "elu" else "elu", opcheck=_ELU_OPCHECK[name],
        bench_backward=(lambda g, x, y, *a: ops.elu_backward(g, *ELU_PARAMS[name](*a), False, x),
                        lambda g, x, y, *a: aten.elu_backward(g, *ELU_PARAMS[name](*a), False, x)),
        parity_samples=_grid_samples(ALL_LAYOUTS, ELU_ARGS_GRID[name]),
        special_samples=_special_samples(ELU_ARGS_GRID[name]),
        gradcheck_samples=_gradcheck_samples(ELU_ARGS_GRID[name]),
        inplace_backward_allowed=lambda *args: ELU_PARAMS[name](*args)[0] >= 0,
        zero_signs_like_ref=lambda *args: ELU_PARAMS[name](*args)[0] >= 0,
        autograd=AutogradInfo({"": lambda x: args}),
        large=LargeInfo("elementwise", torch.bfloat16 if name == "celu" else torch.float16, _LARGE_ELU_ARGS[name]),
        bench_copy_goal=("bwd",) if name == "elu" else (), fuzz="elu")


def _softplus_calls(s, g, writable_copy):
    x, (beta, threshold) = s.input, s.args
    return [("softplus", lambda: ops.softplus(x, beta, threshold)),
            ("softplus_backward", lambda: ops.softplus_backward(g, x, beta, threshold))]


def _prelu_calls(s, g, writable_copy):
    x, (w,) = s.input, s.args
    return [("prelu", lambda: ops.prelu(x, w)), ("prelu_backward", lambda: ops.prelu_backward(g, x, w))]


def _rrelu_calls(training: bool) -> OpCalls:
    def op_calls(s, g, writable_copy):
        x, (lower, upper) = s.input, s.args
        calls = [("rrelu", lambda: ops.rrelu(x, lower, upper, training)),
                 ("rrelu_with_noise", lambda: ops.rrelu_with_noise(x, lower, upper, training)),
                 ("rrelu_backward", lambda: ops.rrelu_backward(
                     g, None, ops.rrelu_with_noise(x, lower, upper, training)[1], lower, upper, True, False))]
        if not training:
            calls.append(("rrelu_backward", lambda: ops.rrelu_backward(g, x, None, lower, upper, False, False)))
        if torch._debug_has_internal_overlap(x) != 1:
            calls.append(("rrelu_", lambda: ops.rrelu_(writable_copy(x), lower, upper, training)))
            calls.append(("rrelu_with_noise_", lambda: ops.rrelu_with_noise_(writable_copy(x), lower, upper,
                                                                              training)))
        return calls

    return op_calls


def _softmax_calls(name: str, negate: bool = False, dim: Optional[int] = None) -> OpCalls:
    """The forward and backward ops on a sample of (dim, dtype) arguments; negate: on -input (softmin's call); dim:
    at this dim, on a sample without arguments (Softmax2d's)."""
    fixed_dim = dim

    def op_calls(s, g, writable_copy):
        x, (dim, dtype) = s.input, s.args if fixed_dim is None else (fixed_dim, None)
        x = -x if negate else x
        forward = getattr(ops, name)

        def backward():
            # The backward of the forward's output (of the dtype argument's dtype), for an input of x's dtype.
            y = forward(x, dim, dtype)
            return getattr(ops, name + "_backward")(g.to(y.dtype), y, dim, x.dtype)

        return [(name, lambda: forward(x, dim, dtype)), (name + "_backward", backward)]

    return op_calls


_RRELU_FORBIDDEN = frozenset({
    "aten::rrelu", "aten::rrelu_", "aten::rrelu_with_noise", "aten::rrelu_with_noise_",
    "aten::rrelu_with_noise_backward", "aten::leaky_relu", "aten::leaky_relu_", "aten::leaky_relu_backward",
    "aten::uniform_", "aten::rand", "aten::rand_like", "aten::where", "aten::mul",
})
_SOFTMAX_FORBIDDEN = frozenset({
    "aten::softmax", "aten::_softmax", "aten::log_softmax", "aten::_log_softmax", "aten::_softmax_backward_data",
    "aten::_log_softmax_backward_data", "aten::special_softmax", "aten::exp", "aten::sum", "aten::max", "aten::amax",
    "aten::logsumexp", "aten::mul", "aten::sub", "aten::div",
})
# (shape, (dim, dtype)): a long last dim, a short one, and a middle dim.
_SOFTMAX_LARGE = [((3, 40009), (1, None)), ((2, 9000), (1, None)), ((40, 30, 20), (1, None))]
# The thread samples: those, dim 0 (the outer loop of one) and a dtype argument (the output's dtype wider).
_SOFTMAX_THREADS = _SOFTMAX_LARGE + [((2000, 60), (0, None)), ((300, 400), (-1, torch.float64))]
RRELU_LOWER, RRELU_UPPER = 0.1, 0.3
RRELU_BENCH_LOWER, RRELU_BENCH_UPPER = 1.0 / 8, 1.0 / 3  # the functional's defaults
_RRELU_BENCH = OptOut("random slopes and the noise tensor: torch_ext.bench.cases._build_rrelu")
_RRELU_OPCHECK = OptOut("the generator argument, train and eval: tests/test_rrelu.py's opcheck tests")
# torch's rrelu has no forward AD under vmap (jacfwd): the twin of tests/test_autograd.py is leaky_relu at the mean
# slope, which is RReLU's in eval, and in training with lower == upper.
_RRELU_TWIN = lambda x, lower, upper: F.leaky_relu(x, (lower + upper) / 2)  # noqa: E731
_RRELU_MODULE = ModuleInfo("RReLU", dict(lower=0.1, upper=0.2), ("lower", "upper", "inplace"),
                           (((), {}), ((0.1, 0.3), {}), ((), {"inplace": True}),
                            ((0.2,), {"upper": 0.5, "inplace": False})))


# (beta, threshold) of the softplus reference families, in ATen's range (threshold <= 20): every beta of {0.5, 1, 2,
# 10} meets every threshold of {20, 1, 0, -1} somewhere; -1.5 is a negative beta (allowed by ATen: outputs <= 0).
SOFTPLUS_ARGS_GRID = ((1.0, 20.0), (0.5, 20.0), (2.0, 20.0), (10.0, 20.0), (1.0, 1.0), (0.5, 0.0), (2.0, -1.0),
                      (10.0, 0.0), (1.0, -1.0), (-1.5, 20.0))


def _softplus_values(args, dtype):
    """Normal values, every other one moved onto the branch point threshold / beta (so that both branches are
    populated whatever beta and threshold are), special values at every 7th."""
    beta, threshold = args

    def values(shape):
        v = normal_values(shape)
        flat = v.view(-1)
        flat[::2] += threshold / beta
        n = flat[::7].numel()
        if n:
            sp = special_values(dtype).to(torch.float64)
            flat[::7] = sp.repeat(n // sp.numel() + 1)[:n]
        return v

    return values


def _softplus_off_kink_values(args, margin=0.05):
    """Both branches, |x - threshold / beta| >= margin: the branch point is a jump in value unless threshold is large,
    and always one in the second derivative."""
    beta, threshold = args

    def values(shape):
        v = normal_values(shape)
        v.view(-1)[::2] += threshold / beta
        return torch.where((v - threshold / beta).abs() < margin, v + 2 * margin, v)

    return values


def _prelu_gradcheck_samples() -> Dict[str, SampleBuilder]:
    """A per-channel weight on an NCL input, one weight on a transposed (dense, not NC...) input; off the kink at 0."""
    def sample(make_x, channels):
        return lambda dtype, device: SampleInput(
            make_x(away_from_zero_values).to(device=device, dtype=dtype),
            (weight_values(channels).to(device=device, dtype=dtype),))

    return {"NCL-per_channel": sample(lambda v: v((2, 3, 4)), 3),
            "transposed-single": sample(lambda v: v((3, 4, 2)).transpose(0, 2), 1)}


# A middle and the first dim, and a dtype argument over the last dim (the output's tangent of another dtype).
_SOFTMAX_AUTOGRAD = AutogradInfo({"": lambda x: (1, None), "dim0": lambda x: (0, None),
                                  "dtype": lambda x: (-1, torch.float64)}, elementwise=False)


def _softmax_gradcheck_samples() -> Dict[str, SampleBuilder]:
    # (a dtype argument would change the output's dtype: gradcheck compares in the input's)
    return {"(3, 4)-dim1": lambda dtype, device: SampleInput(
                make_input(lambda v: v((3, 4)), dtype, device, seed=5), (1, None)),
            "transposed-dim0": lambda dtype, device: SampleInput(
                make_input(lambda v: v((4, 3)).t(), dtype, device, seed=6), (0, None))}


# The softmax2d row's call: the layer itself (its rank check and dim -3).
_SOFTMAX2D = TN.Softmax2d()
_NO_INPLACE = OptOut("the row has no in-place op")
_NO_PARITY = OptOut("the row has no parity samples")


def _prelu_weight(x: torch.Tensor, channels: int) -> torch.Tensor:
    """The validation report's PReLU weights in x's dtype and device: -0.1875, then steps of 1/8. Exact in every
    dtype, so the float64 truth has the weights the dtype's run has."""
    return torch.arange(channels, dtype=torch.float64).div_(8).sub_(0.1875).to(dtype=x.dtype, device=x.device)


def _rows_of_8(x: torch.Tensor) -> torch.Tensor:
    """x as rows of 8 (one row of all of x when its size is no multiple of 8)."""
    return x.view(-1, 8) if x.numel() % 8 == 0 else x.view(1, -1)


def _error_calls(name: str, args: str, functional: str, layer: str, backward_args: str, saved: str) -> ErrorCalls:
    """The ErrorCalls of an op with one forward op, ``ops.<name>(x, <args>)``, its faces
    ``torch_ext.functional.<functional>`` and ``torch_ext.nn.<layer>``, and a backward op
    ``ops.<name>_backward(grad_output, <saved>, <backward_args>)``."""
    return ErrorCalls(
        forward=((name, f"ops.{name}(x, {args})", name),),
        wrappers=((f"{name}/functional", f"torch_ext.functional.{functional}", name),
                  (f"{name}/nn", f"torch_ext.nn.{layer}", name)),
        autograd=((f"{name}/autograd", f"ops.{name}(y, {args})", name),),
        backward=tuple((f"{name}_backward", f"ops.{name}_backward({a}, {b}, {backward_args})", f"{name}_backward", arg)
                       for a, b, arg in (("x", "g", "grad_output"), ("g", "x", saved))))


def _softmax_opcheck(name: str) -> OpcheckInfo:
    """The forward over dims of a few layouts with and without a dtype argument (and a float16 input computed in
    float32); the backward of the output over the last dim and dim 0 of a contiguous input, for a float32 and a
    float16 input dtype."""
    forward, backward = getattr(ops, name), getattr(ops, name + "_backward")

    def backward_call(input_dtype):
        def call(s):
            if not (s.input.is_contiguous() and s.input.dim() == 3 and s.args[0] in (-1, 0) and s.args[1] is None):
                return None
            y = forward(s.input, *s.args)
            return backward.default, (grad_output(y), y, s.args[0], input_dtype), False

        return call

    samples = [(f"{layout}-dim{dim}-{dtype}", torch.float32)
               for layout, dim in (("contiguous", -1), ("contiguous", 1), ("channels_last", 1), ("transposed", 0),
                                   ("contiguous", 0))
               for dtype in ("None", "float64")]
    return OpcheckInfo(tuple(samples) + (("contiguous-dim2-float32", torch.float16),),
                       # (no dtype argument: the schema's default)
                       {name: lambda s: (forward.default, (s.input, *[a for a in s.args if a is not None]), False),
                        f"{name}_backward(float32)": backward_call(torch.float32),
                        f"{name}_backward(float16)": backward_call(torch.float16)})


def _softmax_validation(name: str, ours: Callable, theirs: Callable, bounds: str = "") -> Tuple[ValidationCase, ...]:
    # Over rows of 8 (the last dim) and over columns (dim 0); bounds: those of the op (default: name's).
    return tuple(ValidationCase(f"{name}(dim={dim})", lambda x, dim=dim: ours(_rows_of_8(x), dim).view_as(x),
                                lambda x, dim=dim: theirs(_rows_of_8(x), dim).view_as(x), bounds or name, dim)
                 for dim in (-1, 0))


# The floating, integer and bool dtypes' messages of the ops that take more than floating inputs.
_FLOATING_INTEGER_OR_BOOL_RE = r"a floating-point \(float32, float64, float16 or bfloat16\), integer or bool tensor"
_FLOATING_OR_INTEGER_RE = r"a floating-point \(float32, float64, float16 or bfloat16\) or integer tensor"


def _unary_row(name: str, cls_name: str, backward_from_result: bool, ref: Callable, forbidden, validation_bounds: str,
               error_calls: ErrorCalls, params: tuple = (), param_names: Tuple[str, ...] = (),
               ctor_args: Tuple[Tuple[tuple, dict], ...] = ((), {}), ctor_kwargs: Optional[dict] = None,
               family: str = "", inplace_kwarg: bool = True, aten_backward: Optional[Callable] = None,
               bench_input_scale: float = 4.0, args_grid: Tuple[tuple, ...] = ((),),
               backward_of_rounded_result: Optional[Callable] = None, has_inplace: bool = True,
               aten_name: str = "", ref_contiguous_on_cpu: bool = False, large_dtype: torch.dtype = torch.float16,
               bench_copy_goal: Tuple[str, ...] = ()) -> OpInfo:
    """A row of a generic elementwise op (csrc/ops/elementwise/<name>.h): sigmoid, tanh, relu (their backward reads
    the result: backward_from_result), leaky_relu (the input, or the result in place: its backward takes an
    is_result argument) and logsigmoid (the input; no in-place form: has_inplace=False, no is_result argument).
    params: the forward's parameters after the input in the samples (the functional's defaults or not);
    aten_backward(g, x, y, *params): ATen's backward, for the benchmark; args_grid: the parameters of the reference
    families (tests/test_op_db.py). The in-place form is the functional's inplace=True (inplace_kwarg), else the raw
    in-place op. aten_name: ATen's op, where its name is not ours (log_sigmoid); large_dtype: tests/test_large.py's;
    bench_copy_goal: the row's."""
    forward, backward = getattr(ops, name), getattr(ops, name + "_backward")
    inplace_op = getattr(ops, name + "_") if has_inplace else None
    fn = getattr(TF, name)
    # leaky_relu_backward's is_result: the in-place form saves the result
    is_result_arg = (False,) if has_inplace and not backward_from_result else ()

    def raw_backward(g, x, y, *p):
        return backward(g, y) if backward_from_result else backward(g, x, *p, *is_result_arg)

    def op_calls(s, g, writable_copy):
        x = s.input
        calls = [(name, lambda: forward(x, *s.args)),
                 (name + "_backward", lambda: raw_backward(g, x, forward(x, *s.args), *s.args))]
        if is_result_arg:  # and from the result of the in-place op (positive slopes)
            calls.append((name + "_backward", lambda: backward(g, forward(x, *s.args), *s.args, True)))
        if has_inplace and torch._debug_has_internal_overlap(x) != 1:  # in place needs distinct elements
            calls.append((name + "_", lambda: inplace_op(writable_copy(x), *s.args)))
        return calls

    def opcheck_calls():
        calls = {name: lambda s: (forward.default, (s.input, *params), False),
                 name + "_backward": lambda s: (backward.default, (_strided_grad(s.input), s.input) + (
                     () if backward_from_result else (*params, *is_result_arg)), False)}
        if has_inplace:
            calls[name + "_"] = lambda s: (inplace_op.default, (s.input, *params), True)
        if params:
            calls[name + "(defaults)"] = lambda s: (forward.default, (s.input,), False)
        return calls

    def raw_inplace(x, *a):
        inplace_op(x, *a)
        return x

    inplace_call = (lambda x, *a: fn(x, *a, inplace=True)) if inplace_kwarg else raw_inplace
    inplace_fields = dict(
        inplace=inplace_call, inplace_op=name + "_",
        # The backward of the in-place form reads the result: leaky_relu's needs a slope >= 0.
        inplace_backward_allowed=lambda *a: backward_from_result or a[0] >= 0,
    ) if has_inplace else dict(inplace_backward_allowed=_NO_INPLACE)
    return OpInfo(
        name=name, family=family or name, functional=name, op=fn, ref=ref, forward_op=name,
        backward_op=name + "_backward", ops=(name,) + ((name + "_",) if has_inplace else ()) + (name + "_backward",),
        op_calls=op_calls,
        samples=_layout_samples(ALL_LAYOUTS, *params), large_samples=_layout_samples(["large"], *params),
        thread_samples=_special_layout_samples(LARGE_LAYOUTS, params),
        autograd_function=f"AutogradKernels<torch_ext::ops::{cls_name.replace('ReLU', 'Relu')}Op,",
        forbidden_aten=frozenset(forbidden),
        module=ModuleInfo(cls_name, dict(ctor_kwargs or {}), param_names, ctor_args),
        validation=(ValidationCase(name + (f"({', '.join(map(str, params))})" if params else ""), lambda x: fn(x, *params),
                                   lambda x: ref(x, *params), validation_bounds),),
        autocast=AutocastPolicy(aten_name or name, frozenset()), bench_args=params, error_calls=error_calls,
        opcheck=OpcheckInfo(tuple((layout, torch.float32) for layout in ("contiguous", "channels_last", "transposed")),
                            opcheck_calls()),
        bench_backward=(raw_backward, aten_backward), bench_input_scale=bench_input_scale,
        parity_samples=_grid_samples(ALL_LAYOUTS, args_grid), special_samples=_special_samples(args_grid),
        gradcheck_samples=_gradcheck_samples(args_grid),
        backward_of_rounded_result=backward_of_rounded_result, ref_contiguous_on_cpu=ref_contiguous_on_cpu,
        **inplace_fields,
        zero_signs_like_ref=lambda *a: True, nan_gradient_at_nan_input=name not in ("relu", "leaky_relu"),
        autograd=AutogradInfo({"": lambda x: params}), large=LargeInfo("elementwise", large_dtype, params),
        bench_copy_goal=bench_copy_goal, fuzz="elementwise")


def _aten_logsigmoid_backward(g, x, y):
    # ATen's CPU log_sigmoid_backward reads the buffer its forward wrote (CUDA's is empty and unused); autograd saves
    # it, so the benchmark's timed ATen call gets it made once per input (the last input's is kept).
    x_ref, buffer = _LOGSIGMOID_BUFFER
    if x_ref is None or x_ref() is not x:
        buffer = aten.log_sigmoid_forward(x)[1]
        _LOGSIGMOID_BUFFER[:] = [weakref.ref(x), buffer]
    return aten.log_sigmoid_backward(g, x, buffer)


_LOGSIGMOID_BUFFER: list = [None, None]  # (a weak reference to the input, its buffer)


def _saturating_row(name: str, cls_name: str, large_dtype: torch.dtype) -> OpInfo:
    """sigmoid or tanh: no parameters, no inplace argument in torch.nn.functional, an integer or bool input gives a
    float result."""
    return _unary_row(
        name, cls_name, True, getattr(torch, name),
        {f"aten::{name}", f"aten::{name}_", f"aten::{name}_backward", "aten::exp", "aten::expm1", "aten::reciprocal",
         "aten::mul", "aten::div", "aten::add", "aten::rsub"},
        "elementwise_saves_output",
        ErrorCalls(
            forward=((name, f"ops.{name}(x)", name, {"complex": _FLOATING_INTEGER_OR_BOOL_RE}),
                     (f"{name}_", f"ops.{name}_(x)", f"{name}_")),  # in place: floating only
            autograd=((f"{name}/autograd", f"ops.{name}(y)", name, {"complex": _FLOATING_INTEGER_OR_BOOL_RE}),),
            backward=tuple((f"{name}_backward", f"ops.{name}_backward({a}, {b})", f"{name}_backward", arg)
                           for a, b, arg in (("x", "g", "grad_output"), ("g", "x", "output")))),
        family="sigmoid_tanh", inplace_kwarg=False, ctor_args=(((), {}),),
        aten_backward=lambda g, x, y: getattr(aten, f"{name}_backward")(g, y),
        backward_of_rounded_result=getattr(aten, f"{name}_backward"), large_dtype=large_dtype)


# (grad, beta) of the step units' reference families: every surrogate, SwishSign at two sharpnesses.
STEP_ARGS_GRID = tuple((grad, 5.0) for grad in reference.STEP_GRADS) + (("swish_sign", 1.5),)


def _step_row(name: str, cls_name: str) -> OpInfo:
    """sign or heaviside (csrc/ops/elementwise/step.h): a step forward, a surrogate backward of the input; no
    in-place form, no torch twin (the reference is torch_ext.testing.reference's, a straight-through
    autograd.Function over torch ops)."""
    forward, backward = getattr(ops, name), getattr(ops, name + "_backward")
    ref = getattr(reference, name)

    def op_calls(s, g, writable_copy):
        x = s.input
        return [(name, lambda: forward(x, *s.args)), (name + "_backward", lambda: backward(g, x, *s.args))]

    def ref_backward(g, x, y, grad, beta):
        # The benchmark's PyTorch side: the surrogate in torch ops, half and bfloat16 computed in float.
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        return (g * ((1.0 if name == "sign" else 0.5) * reference.step_surrogate(xf, grad, beta))).to(x.dtype)

    bench_args = ("swish_sign", 5.0)  # the surrogate with transcendental functions
    return OpInfo(
        name=name, family="step", functional=name, op=getattr(TF, name), ref=ref, forward_op=name,
        backward_op=name + "_backward", ops=(name, name + "_backward"), op_calls=op_calls,
        samples=_layout_samples(ALL_LAYOUTS, *bench_args), large_samples=_layout_samples(["large"], *bench_args),
        thread_samples=_special_layout_samples(LARGE_LAYOUTS, *STEP_ARGS_GRID),
        autograd_function=f"AutogradKernels<torch_ext::ops::StepOp<torch_ext::ops::{cls_name}Step>,",
        forbidden_aten=frozenset({f"aten::{name}", "aten::sgn", "aten::where", "aten::exp", "aten::tanh",
                                  "aten::cosh", "aten::mul"}),
        module=ModuleInfo(cls_name, dict(grad="swish_sign", beta=2.0), ("grad", "beta"),
                          (((), {}), (("clipped",), {}), ((), {"grad": "approx_sign"}), (("swish_sign", 3.0), {}),
                           ((), {"beta": 1.5})), twin=getattr(reference, cls_name)),
        # SwishSign: the surrogate with transcendental functions (the forward is the same for every grad)
        validation=(ValidationCase(f"{name}(swish_sign)", lambda x: getattr(TF, name)(x, "swish_sign"),
                                   lambda x: ref(x, "swish_sign"), "swish_sign",
                                   gradcheck=lambda x: backward(torch.ones_like(x), x, "swish_sign", 5.0)),),
        autocast=AutocastPolicy(name, frozenset()), bench_args=bench_args,
        bench_backward=(lambda g, x, y, *a: backward(g, x, *a), ref_backward),
        error_calls=ErrorCalls(
            forward=((name, f"ops.{name}(x)", name),),
            wrappers=((f"{name}/functional", f"torch_ext.functional.{name}(x)", name),
                      (f"{name}/nn", f"torch_ext.nn.{cls_name}()(x)", name)),
            autograd=((f"{name}/autograd", f"ops.{name}(y)", name),),
            backward=tuple((f"{name}_backward", f"ops.{name}_backward({a}, {b}, 'identity', 5.0)",
                            f"{name}_backward", arg) for a, b, arg in (("x", "g", "grad_output"), ("g", "x", "self")))),
        opcheck=OpcheckInfo(
            tuple((layout, torch.float32) for layout in ("contiguous", "channels_last", "transposed")),
            {name + "(defaults)": lambda s: (forward.default, (s.input,), False),
             **{f"{name}({grad})": lambda s, grad=grad: (forward.default, (s.input, grad, 2.0), False)
                for grad in reference.STEP_GRADS},
             **{f"{name}_backward({grad})": lambda s, grad=grad: (
                 backward.default, (_strided_grad(s.input), s.input, grad, 2.0), False)
                for grad in reference.STEP_GRADS}}),
        parity_samples=_grid_samples(ALL_LAYOUTS, STEP_ARGS_GRID), special_samples=_special_samples(STEP_ARGS_GRID),
        gradcheck_samples=OptOut("a step: its surrogate gradient is not its derivative, which gradcheck would "
                                 "compare; tests/test_step.py gradchecks the backward op and the forward AD"),
        inplace_backward_allowed=OptOut("no in-place form"), zero_signs_like_ref=lambda *a: True,
        # "identity" never reads x: its gradient at a NaN input is g, the reference's too.
        nan_gradient_at_nan_input=False, backward_condition=reference.step_surrogate_condition,
        # the reference's straight-through Function carries the surrogate in forward AD and under vmap too
        autograd=AutogradInfo({"": lambda x: bench_args}),
        large=LargeInfo("elementwise", torch.bfloat16 if name == "sign" else torch.float16, bench_args),
        bench_copy_goal=(), fuzz="elementwise")


op_db: List[OpInfo] = [
    _elu_row("elu", 0.5, TF.elu, F.elu, lambda x, *a: TF.elu(x, *a, inplace=True),
             ModuleInfo("ELU", dict(alpha=0.7), ("alpha", "inplace"),
                        (((), {}), ((0.5,), {}), ((), {"alpha": 2.0}), ((), {"inplace": True}), ((1.5, True), {}),
                         ((-0.5,), {}))),
             (ValidationCase("elu(alpha=1)", lambda x: TF.elu(x), lambda x: F.elu(x)),
              ValidationCase("elu(alpha=0.5)", lambda x: TF.elu(x, 0.5), lambda x: F.elu(x, 0.5)),
              ValidationCase("elu_(inplace)", lambda x: TF.elu(x.clone(), 1.0, inplace=True),
                             lambda x: F.elu(x.clone(), 1.0, inplace=True), "elementwise_saves_output")),
             (1.0,),
             ErrorCalls(
                 forward=(("elu", "ops.elu(x, 1.0)", "elu"), ("elu_", "ops.elu_(x, 1.0)", "elu_")),
                 wrappers=(("elu/functional", "torch_ext.functional.elu(x)", "elu"),
                           ("elu/nn", "torch_ext.nn.ELU()(x)", "elu"),
                           ("elu_/functional", "torch_ext.functional.elu(x, inplace=True)", "elu_"),
                           ("elu_/nn", "torch_ext.nn.ELU(inplace=True)(x)", "elu_")),
                 autograd=(("elu/autograd", "ops.elu(y, 1.0)", "elu"), ("elu_/autograd", "ops.elu_(y, 1.0)", "elu_")),
                 backward=(("elu_backward", "ops.elu_backward(x, 1.0, 1.0, 1.0, False, g)", "elu_backward",
                            "grad_output"),
                           ("elu_backward", "ops.elu_backward(g, 1.0, 1.0, 1.0, False, x)", "elu_backward",
                            "self_or_result")))),
    _elu_row("celu", 2.0, TF.celu, F.celu, lambda x, *a: TF.celu(x, *a, inplace=True),
             ModuleInfo("CELU", dict(alpha=1.3), ("alpha", "inplace"),
                        (((), {}), ((0.5,), {}), ((), {"alpha": 2.0}), ((), {"inplace": True}), ((1.5, True), {}))),
             (ValidationCase("celu(alpha=2)", lambda x: TF.celu(x, 2.0), lambda x: F.celu(x, 2.0)),), (1.0,),
             OptOut("a composite over elu: its bad-dtype messages are test_errors.THROUGH_OTHER_OPS's")),
    _elu_row("selu", None, TF.selu, F.selu, lambda x: TF.selu(x, inplace=True),
             ModuleInfo("SELU", {}, ("inplace",), (((), {}), ((True,), {}), ((), {"inplace": True}),
                                                   ((), {"inplace": False}))),
             (ValidationCase("selu", lambda x: TF.selu(x), lambda x: F.selu(x)),), (),
             OptOut("a composite over elu: its bad-dtype messages are test_errors.THROUGH_OTHER_OPS's")),
    OpInfo(
        name="prelu", family="prelu", functional="prelu", op=TF.prelu, ref=F.prelu,
        forward_op="prelu", backward_op="prelu_backward", ops=("prelu", "prelu_backward"), op_calls=_prelu_calls,
        samples=_prelu_samples(PRELU_CASES), large_samples=_prelu_samples(["large_channels_last"]),
        # (the reduction's own determinism grid is tests/test_prelu.py's)
        thread_samples=_prelu_samples(["large_channels_last"]),
        autograd_function="PreluFunction", small_sample="NCL-per_channel",
        # The weight gradient is reduced inside prelu_backward's kernel (no aten::sum).
        forbidden_aten=frozenset({"aten::prelu", "aten::_prelu_kernel", "aten::_prelu_kernel_backward", "aten::sum",
                                  "aten::mul", "aten::where"}),
        module=ModuleInfo("PReLU", dict(num_parameters=16, init=0.1), ("num_parameters", "init"),
                          (((), {}), ((3,), {}), ((5, 0.1), {}))),
        autocast=AutocastPolicy("prelu", frozenset({"AutocastCPU", "AutocastCUDA"})),
        bench_args=OptOut("the bench draws a weight per case (torch_ext.bench.cases._build_prelu)"),
        bench_backward=OptOut("a weight gradient too: torch_ext.bench.cases._build_prelu"),
        error_calls=_error_calls("prelu", "torch.tensor([0.25])", "prelu(x, torch.tensor([0.25]))", "PReLU()(x)",
                                 "torch.tensor([0.25])", "self"),
        opcheck=OpcheckInfo(
            tuple((f"{case}-{weights}", torch.float32) for case in ("NCL", "NCHW_channels_last", "transposed", "1d", "0d")
                  for weights in PRELU_WEIGHTS if f"{case}-{weights}" in _PRELU_SAMPLE_NAMES),
            {"prelu": lambda s: (ops.prelu.default, (s.input, *s.args), False),
             "prelu_backward": lambda s: (ops.prelu_backward.default, (grad_output(s.input), s.input, *s.args),
                                          False)}),
        validation=(
            ValidationCase("prelu(C=1)", lambda x: TF.prelu(x, _prelu_weight(x, 1)),
                           lambda x: F.prelu(x, _prelu_weight(x, 1))),
            ValidationCase("prelu(C=8)", lambda x: TF.prelu(x.view(-1, 8, 2), _prelu_weight(x, 8)).view_as(x),
                           lambda x: F.prelu(x.view(-1, 8, 2), _prelu_weight(x, 8)).view_as(x))),
        parity_samples=OptOut("exact parity and the weight gradient's own bound: tests/test_prelu.py's parity tests"),
        special_samples=OptOut("per-slope special values: tests/test_prelu.py::test_special_values"),
        gradcheck_samples=_prelu_gradcheck_samples(), inplace_backward_allowed=_NO_INPLACE,
        zero_signs_like_ref=_NO_PARITY, autograd=AutogradInfo({"": lambda x: (_prelu_weight(x, x.shape[1]),)}),
        large=LargeInfo("prelu", torch.bfloat16), bench_copy_goal=("fwd",), fuzz="prelu"),
    OpInfo(
        name="rrelu_train", family="rrelu", functional="rrelu",
        op=lambda x, lower, upper: TF.rrelu(x, lower, upper, training=True),
        ref=lambda x, lower, upper: F.rrelu(x, lower, upper, training=True),
        forward_op="rrelu_with_noise", backward_op="rrelu_backward",
        ops=("rrelu_with_noise", "rrelu_with_noise_", "rrelu_backward"), op_calls=_rrelu_calls(True),
        samples=_layout_samples(ALL_LAYOUTS, RRELU_LOWER, RRELU_UPPER),
        large_samples=_layout_samples(["large"], RRELU_LOWER, RRELU_UPPER),
        thread_samples=_special_layout_samples(LARGE_LAYOUTS, (RRELU_LOWER, RRELU_UPPER)),
        autograd_function="RReluWithNoiseFunction", forbidden_aten=_RRELU_FORBIDDEN,
        module=_RRELU_MODULE,
        inplace=lambda x, lower, upper: TF.rrelu(x, lower, upper, training=True, inplace=True),
        inplace_op="rrelu_", random=True, autocast=AutocastPolicy("rrelu_with_noise", frozenset()),
        opcheck=_RRELU_OPCHECK,
        bench_args=(RRELU_BENCH_LOWER, RRELU_BENCH_UPPER), bench_backward=_RRELU_BENCH,
        error_calls=ErrorCalls(
            forward=(("rrelu/train", "ops.rrelu(x, 0.125, 0.25, True)", "rrelu"),
                     ("rrelu_/train", "ops.rrelu_(x, 0.125, 0.25, True)", "rrelu_"),
                     ("rrelu_with_noise", "ops.rrelu_with_noise(x, 0.125, 0.25, True)", "rrelu_with_noise"),
                     ("rrelu_with_noise_", "ops.rrelu_with_noise_(x, 0.125, 0.25, True)", "rrelu_with_noise_")),
            wrappers=(("rrelu/nn-train", "torch_ext.nn.RReLU()(x)", "rrelu"),
                      ("rrelu_/functional-train", "torch_ext.functional.rrelu(x, training=True, inplace=True)",
                       "rrelu_")),
            backward=(("rrelu_backward", "ops.rrelu_backward(g, None, x, 0.125, 0.25, True, False)", "rrelu_backward",
                       "noise"),)),
        # lower == upper: every slope is 0.2, which is leaky_relu (ATen's rrelu has no CPU float16 kernel).
        validation=(ValidationCase("rrelu(train, l=u)", lambda x: TF.rrelu(x, 0.2, 0.2, training=True),
                                   lambda x: F.leaky_relu(x, 0.2)),),
        parity_samples=OptOut("random: no torch parity (tests/test_rrelu.py: the slopes' law, Philox, l == u)"),
        special_samples=OptOut("random: tests/test_rrelu.py::test_train_special_values"),
        # lower == upper: every draw is the same slope, so that gradcheck's repeated calls see one function.
        gradcheck_samples=_gradcheck_samples(((0.2, 0.2),)), inplace_backward_allowed=lambda lower, upper: True,
        zero_signs_like_ref=_NO_PARITY,
        # lower == upper: every draw is the same slope, leaky_relu's
        autograd=AutogradInfo({"": lambda x: (0.2, 0.2)}, twin=_RRELU_TWIN, refused_as="rrelu"),
        large=LargeInfo("rrelu_train", torch.float16), bench_copy_goal=(), fuzz="rrelu_train"),
    OpInfo(
        name="rrelu_eval", family="rrelu", functional="rrelu",
        op=lambda x, lower, upper: TF.rrelu(x, lower, upper, training=False),
        ref=lambda x, lower, upper: F.rrelu(x, lower, upper, training=False),
        forward_op="rrelu", backward_op="rrelu_backward", ops=("rrelu", "rrelu_", "rrelu_backward"),
        op_calls=_rrelu_calls(False), samples=_layout_samples(ALL_LAYOUTS, RRELU_LOWER, RRELU_UPPER),
        large_samples=_layout_samples(["large"], RRELU_LOWER, RRELU_UPPER),
        thread_samples=_special_layout_samples(LARGE_LAYOUTS, (RRELU_LOWER, RRELU_UPPER)),
        autograd_function="RReluEvalFunction", forbidden_aten=_RRELU_FORBIDDEN,
        module=_RRELU_MODULE,
        inplace=lambda x, lower, upper: TF.rrelu(x, lower, upper, training=False, inplace=True), inplace_op="rrelu_",
        autocast=AutocastPolicy("rrelu", frozenset()), bench_args=(RRELU_BENCH_LOWER, RRELU_BENCH_UPPER),
        bench_backward=_RRELU_BENCH,
        opcheck=_RRELU_OPCHECK,
        error_calls=ErrorCalls(
            forward=(("rrelu/eval", "ops.rrelu(x, 0.125, 0.25, False)", "rrelu"),
                     ("rrelu_/eval", "ops.rrelu_(x, 0.125, 0.25, False)", "rrelu_")),
            wrappers=(("rrelu/functional-eval", "torch_ext.functional.rrelu(x)", "rrelu"),),
            autograd=(("rrelu/autograd-eval", "ops.rrelu(y, 0.125, 0.25, False)", "rrelu"),),
            backward=(("rrelu_backward", "ops.rrelu_backward(x, g, None, 0.125, 0.25, False, False)", "rrelu_backward",
                       "grad_output"),
                      ("rrelu_backward", "ops.rrelu_backward(g, x, None, 0.125, 0.25, False, False)", "rrelu_backward",
                       "self_or_result"))),
        validation=(ValidationCase("rrelu(eval)", lambda x: TF.rrelu(x, 0.1, 0.3), lambda x: F.rrelu(x, 0.1, 0.3)),),
        parity_samples=OptOut("exact parity with NaN gradients at NaN: tests/test_rrelu.py::test_eval_*_parity"),
        special_samples=OptOut("exact: tests/test_rrelu.py::test_eval_special_values"),
        gradcheck_samples=_gradcheck_samples(((0.1, 0.3), (-0.6, -0.2))),
        # A negative slope (lower + upper) / 2: the in-place backward cannot recover the input.
        inplace_backward_allowed=lambda lower, upper: lower + upper >= 0, zero_signs_like_ref=_NO_PARITY,
        autograd=AutogradInfo({"": lambda x: (RRELU_LOWER, RRELU_UPPER)}, twin=_RRELU_TWIN),
        large=LargeInfo("elementwise", torch.float16, (RRELU_LOWER, RRELU_UPPER), ref=_RRELU_TWIN, backward=(
            lambda g, x, y, lower, upper: ops.rrelu_backward(g, x, None, lower, upper, False, False),
            lambda g, x, y, lower, upper: aten.leaky_relu_backward(g, x, (lower + upper) / 2, False))),
        bench_copy_goal=("fwd",), fuzz="rrelu_eval"),
    OpInfo(
        name="softplus", family="softplus", functional="softplus", op=TF.softplus, ref=F.softplus,
        forward_op="softplus", backward_op="softplus_backward", ops=("softplus", "softplus_backward"),
        op_calls=_softplus_calls, samples=_layout_samples(ALL_LAYOUTS, 0.5, 1.0),
        large_samples=_layout_samples(["large"], 2.0, 1.0),
        autograd_function="AutogradKernels<torch_ext::ops::SoftplusOp,",
        # (beta, threshold): the defaults, a negative threshold (all log1p(exp)), one past every input (no linear part)
        thread_samples=_special_layout_samples(LARGE_LAYOUTS, (1.0, 20.0), (2.0, -1.0), (0.5, 1e4)),
        forbidden_aten=frozenset({"aten::softplus", "aten::softplus_backward", "aten::exp", "aten::log1p",
                                  "aten::sigmoid"}),
        module=ModuleInfo("Softplus", dict(beta=2.0, threshold=5.0), ("beta", "threshold"),
                          (((), {}), ((2.0,), {}), ((), {"beta": 0.5}), ((), {"threshold": 1.0}), ((10, 0), {}),
                           ((), {"beta": 2, "threshold": -1.0}))),
        autocast=AutocastPolicy("softplus", frozenset({"AutocastCUDA"})), bench_args=(1.0, 20.0),
        bench_backward=(lambda g, x, y, b, t: ops.softplus_backward(g, x, b, t),
                        lambda g, x, y, b, t: aten.softplus_backward(g, x, b, t)),
        bench_input_scale=4.0,
        error_calls=_error_calls("softplus", "1.0, 20.0", "softplus(x)", "Softplus()(x)", "1.0, 20.0", "self"),
        opcheck=OpcheckInfo(
            tuple((layout, torch.float32) for layout in ("contiguous", "channels_last", "transposed")),
            {"softplus": lambda s: (ops.softplus.default, (s.input, 2.0, 1.0), False),
             "softplus(defaults)": lambda s: (ops.softplus.default, (s.input,), False),
             "softplus_backward": lambda s: (ops.softplus_backward.default, (_strided_grad(s.input), s.input, 2.0, 1.0),
                                             False),
             "softplus_backward(defaults)": lambda s: (
                 ops.softplus_backward.default, (_strided_grad(s.input), s.input, 1.0, 20.0), False)}),
        validation=(ValidationCase("softplus", lambda x: TF.softplus(x), lambda x: F.softplus(x)),
                    ValidationCase("softplus(b=2,t=5)", lambda x: TF.softplus(x, 2.0, 5.0),
                                   lambda x: F.softplus(x, 2.0, 5.0))),
        parity_samples=_grid_samples(ALL_LAYOUTS, SOFTPLUS_ARGS_GRID, _softplus_values),
        special_samples=_special_samples(SOFTPLUS_ARGS_GRID),
        gradcheck_samples=_gradcheck_samples(SOFTPLUS_ARGS_GRID, _softplus_off_kink_values),
        inplace_backward_allowed=_NO_INPLACE, zero_signs_like_ref=lambda beta, threshold: True,
        autograd=AutogradInfo({"": lambda x: (2.0, 5.0)}),
        # beta * x > threshold takes the linear branch: both branches are populated.
        large=LargeInfo("elementwise", torch.bfloat16, (2.0, 1.0)), bench_copy_goal=(), fuzz="softplus"),
] + [
    OpInfo(
        name=name, family="softmax", functional=name,
        # (dtype as a keyword: the third positional parameter is _stacklevel)
        op=lambda x, dim, dtype, name=name: getattr(TF, name)(x, dim, dtype=dtype),
        ref=lambda x, dim, dtype, name=name: getattr(F, name)(x, dim, dtype=dtype),
        forward_op=name, backward_op=name + "_backward", ops=(name, name + "_backward"),
        op_calls=_softmax_calls(name), samples=_softmax_samples(), large_samples=_shape_samples(_SOFTMAX_LARGE),
        thread_samples=_shape_samples(_SOFTMAX_THREADS),
        autograd_function="LogSoftmaxFunction" if name == "log_softmax" else "SoftmaxFunction",
        forbidden_aten=_SOFTMAX_FORBIDDEN, small_sample="contiguous-dim1-None",
        module=ModuleInfo(cls_name, dict(dim=1), ("dim",),
                          (((), {}), ((1,), {}), ((), {"dim": -1}), ((0,), {}), ((), {"dim": None}))),
        autocast=AutocastPolicy(name + ".int", frozenset({"AutocastCUDA"})),
        bench_args=OptOut("the bench's cases carry their dim (torch_ext.bench.cases.Case.dim)"),
        bench_backward=OptOut("a reduction over a dim: torch_ext.bench.cases._build_softmax"),
        error_calls=_error_calls(name, "0, None", f"{name}(x, dim=0)", f"{cls_name}(dim=0)(x)", "0, torch.float32",
                                 "output"),
        opcheck=_softmax_opcheck(name),
        validation=_softmax_validation(name, getattr(TF, name), getattr(F, name)),
        parity_samples=OptOut("per kernel path, dtype argument and row length: tests/test_softmax.py"),
        special_samples=OptOut("special rows (inf, NaN, huge logits): tests/test_softmax.py::test_special_rows*"),
        gradcheck_samples=_softmax_gradcheck_samples(), inplace_backward_allowed=_NO_INPLACE,
        zero_signs_like_ref=_NO_PARITY, autograd=_SOFTMAX_AUTOGRAD,
        large=LargeInfo("softmax", torch.float16, backward=(
            getattr(ops, name + "_backward"), getattr(aten, f"_{name}_backward_data"))), bench_copy_goal=(),
        fuzz="softmax")
    for name, cls_name in (("softmax", "Softmax"), ("log_softmax", "LogSoftmax"))
] + [
    # softmin and Softmax2d compose softmax's op (softmax of -input; softmax over dim -3): their rows check the
    # composition (the ops it calls and no ATen twin, grad_fn, compile, export, the layers); softmax's kernels are
    # the softmax row's.
    OpInfo(
        name="softmin", family="softmax", functional="softmin",
        op=lambda x, dim, dtype: TF.softmin(x, dim, dtype=dtype),
        ref=lambda x, dim, dtype: F.softmin(x, dim, dtype=dtype),
        forward_op="softmax", backward_op="softmax_backward", ops=("softmax", "softmax_backward"),
        op_calls=_softmax_calls("softmax", negate=True), samples=_softmax_samples(("contiguous", "scalar_0d", "empty")),
        large_samples=_shape_samples(_SOFTMAX_LARGE[:1]), kernels_of="softmax",
        thread_samples=OptOut("softmax's kernels (the softmax row's) on -input, which negation gives exactly"),
        autograd_function="SoftmaxFunction", forbidden_aten=_SOFTMAX_FORBIDDEN, small_sample="contiguous-dim1-None",
        module=ModuleInfo("Softmin", dict(dim=1), ("dim",),
                          (((), {}), ((1,), {}), ((), {"dim": -1}), ((0,), {}), ((), {"dim": None}))),
        autocast=AutocastPolicy("softmax.int", frozenset({"AutocastCUDA"})),
        bench_args=OptOut("softmax's kernels: the softmax row's benchmark"),
        bench_backward=OptOut("softmax's kernels: the softmax row's benchmark"),
        error_calls=ErrorCalls(forward=(), wrappers=(
            ("softmin/functional", "torch_ext.functional.softmin(x, dim=0)", "softmax"),
            ("softmin/nn", "torch_ext.nn.Softmin(dim=0)(x)", "softmax"))),
        opcheck=OptOut("softmax's op: the softmax row's opcheck"),
        validation=_softmax_validation("softmin", TF.softmin, F.softmin, bounds="softmax"),
        parity_samples=OptOut("softmax of -input, dtype argument: tests/test_softmax.py's softmin section"),
        special_samples=OptOut("softmax's special rows (the softmax row's), on -input"),
        gradcheck_samples=_softmax_gradcheck_samples(), inplace_backward_allowed=_NO_INPLACE,
        zero_signs_like_ref=_NO_PARITY, autograd=AutogradInfo({"": lambda x: (1, None)}, elementwise=False),
        large=OptOut("softmax's kernels (the softmax row's) on -input"), bench_copy_goal=(),
        fuzz=OptOut("softmax's kernels (the softmax row's) on -input")),
    OpInfo(
        name="softmax2d", family="softmax", functional="softmax", op=_SOFTMAX2D, ref=nn.Softmax2d(),
        forward_op="softmax", backward_op="softmax_backward", ops=("softmax", "softmax_backward"),
        op_calls=_softmax_calls("softmax", dim=-3),
        # (C, H, W) and (N, C, H, W) inputs, dense, channels_last, not dense, empty
        samples=_layout_samples(("contiguous", "channels_last", "permuted_sliced", "empty_middle")),
        large_samples=_layout_samples(["large_channels_last"]), kernels_of="softmax",
        thread_samples=OptOut("softmax's kernels: the softmax row's (dim 1 of a channels_last input among them)"),
        autograd_function="SoftmaxFunction", forbidden_aten=_SOFTMAX_FORBIDDEN,
        module=ModuleInfo("Softmax2d", {}, (), (((), {}),), inner_dims=(3, 2)),
        autocast=AutocastPolicy("softmax.int", frozenset({"AutocastCUDA"})),
        bench_args=OptOut("softmax's kernels: the softmax row's benchmark"),
        bench_backward=OptOut("softmax's kernels: the softmax row's benchmark"),
        error_calls=ErrorCalls(forward=(), wrappers=(
            ("softmax2d/nn", "torch_ext.nn.Softmax2d()(x.view(3, 2, 1))", "softmax"),)),
        opcheck=OptOut("softmax's op: the softmax row's opcheck"),
        parity_samples=OptOut("softmax over dim -3: tests/test_softmax.py's Softmax2d section"),
        special_samples=OptOut("softmax's special rows (the softmax row's)"),
        gradcheck_samples={"(3, 2, 2)": lambda dtype, device: SampleInput(
                               make_input(lambda v: v((3, 2, 2)), dtype, device, seed=5)),
                           "(2, 3, 2, 2)-channels_last": lambda dtype, device: SampleInput(
                               make_input("channels_last", dtype, device, seed=6))},
        inplace_backward_allowed=_NO_INPLACE, zero_signs_like_ref=_NO_PARITY,
        autograd=AutogradInfo({"": lambda x: ()}, elementwise=False),
        large=OptOut("softmax's kernels: the softmax row's (over a middle dim among them)"), bench_copy_goal=(),
        fuzz=OptOut("softmax's kernels over dim -3: the softmax row's (every dim of any layout)")),
] + [
    _saturating_row("sigmoid", "Sigmoid", torch.bfloat16),
    _saturating_row("tanh", "Tanh", torch.float16),
    _unary_row(
        "relu", "ReLU", True, F.relu,
        {"aten::relu", "aten::relu_", "aten::threshold_backward", "aten::threshold", "aten::clamp_min",
         "aten::clamp", "aten::maximum", "aten::where", "aten::mul"},
        "elementwise",
        ErrorCalls(
            forward=(("relu", "ops.relu(x)", "relu", {d: _FLOATING_OR_INTEGER_RE for d in ("bool", "complex")}),
                     ("relu_", "ops.relu_(x)", "relu_", {d: _FLOATING_OR_INTEGER_RE for d in ("bool", "complex")})),
            wrappers=(),
            autograd=(("relu/autograd", "ops.relu(y)", "relu", {"complex": _FLOATING_OR_INTEGER_RE}),
                      ("relu_/autograd", "ops.relu_(y)", "relu_", {"complex": _FLOATING_OR_INTEGER_RE})),
            backward=tuple(("relu_backward", f"ops.relu_backward({a}, {b})", "relu_backward", arg)
                           for a, b, arg in (("x", "g", "grad_output"), ("g", "x", "output")))),
        param_names=("inplace",), family="relu",
        ctor_args=(((), {}), ((True,), {}), ((), {"inplace": True}), ((), {"inplace": False})),
        aten_backward=lambda g, x, y: aten.threshold_backward(g, y, 0), large_dtype=torch.bfloat16),
    _unary_row(
        "leaky_relu", "LeakyReLU", False, F.leaky_relu,
        {"aten::leaky_relu", "aten::leaky_relu_", "aten::leaky_relu_backward", "aten::where", "aten::mul"},
        "elementwise",
        ErrorCalls(
            forward=(("leaky_relu", "ops.leaky_relu(x, 0.2)", "leaky_relu"),
                     ("leaky_relu_", "ops.leaky_relu_(x, 0.2)", "leaky_relu_")),
            wrappers=(("leaky_relu/functional", "torch_ext.functional.leaky_relu(x)", "leaky_relu"),
                      ("leaky_relu/nn", "torch_ext.nn.LeakyReLU()(x)", "leaky_relu"),
                      ("leaky_relu_/functional", "torch_ext.functional.leaky_relu(x, inplace=True)", "leaky_relu_"),
                      ("leaky_relu_/nn", "torch_ext.nn.LeakyReLU(inplace=True)(x)", "leaky_relu_")),
            autograd=(("leaky_relu/autograd", "ops.leaky_relu(y, 0.2)", "leaky_relu"),
                      ("leaky_relu_/autograd", "ops.leaky_relu_(y, 0.2)", "leaky_relu_")),
            backward=tuple(("leaky_relu_backward", f"ops.leaky_relu_backward({a}, {b}, 0.2, False)",
                            "leaky_relu_backward", arg) for a, b, arg in (("x", "g", "grad_output"), ("g", "x", "self")))),
        params=(0.2,), param_names=("inplace", "negative_slope"), family="relu", ctor_kwargs=dict(negative_slope=0.2),
        args_grid=((0.01,), (0.2,), (-0.5,), (0.0,)),
        ctor_args=(((), {}), ((0.2,), {}), ((), {"negative_slope": 0.5}), ((0.1, True), {}), ((), {"inplace": True}),
                   ((-0.5,), {})),
        aten_backward=lambda g, x, y, slope: aten.leaky_relu_backward(g, x, slope, False)),
    _unary_row(
        "logsigmoid", "LogSigmoid", False, F.logsigmoid,
        {"aten::log_sigmoid", "aten::log_sigmoid_forward", "aten::log_sigmoid_backward", "aten::sigmoid",
         "aten::softplus", "aten::exp", "aten::log1p", "aten::log", "aten::where", "aten::minimum", "aten::clamp",
         "aten::mul", "aten::div", "aten::add", "aten::sub"},
        "elementwise",
        ErrorCalls(
            forward=(("logsigmoid", "ops.logsigmoid(x)", "logsigmoid"),),
            wrappers=(("logsigmoid/functional", "torch_ext.functional.logsigmoid(x)", "logsigmoid"),
                      ("logsigmoid/nn", "torch_ext.nn.LogSigmoid()(x)", "logsigmoid")),
            autograd=(("logsigmoid/autograd", "ops.logsigmoid(y)", "logsigmoid"),),
            backward=tuple(("logsigmoid_backward", f"ops.logsigmoid_backward({a}, {b})", "logsigmoid_backward", arg)
                           for a, b, arg in (("x", "g", "grad_output"), ("g", "x", "self")))),
        ctor_args=(((), {}),), inplace_kwarg=False, has_inplace=False, aten_name="log_sigmoid",
        ref_contiguous_on_cpu=True, aten_backward=_aten_logsigmoid_backward),
    _step_row("sign", "Sign"),
    _step_row("heaviside", "Heaviside"),
]

op_db_by_name: Dict[str, OpInfo] = {row.name: row for row in op_db}


def validation_cases() -> List[ValidationCase]:
    """Every row's validation cases, in the table's order (the report's)."""
    return [c for row in op_db for c in row.validation]
