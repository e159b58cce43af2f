"""torch.compile's Inductor may fuse through torch_ext's ops: a decomposition per op, used where measured faster.

A custom op is opaque to Inductor: it runs as an extern kernel between Inductor's generated ones, so an activation
next to other pointwise work costs its own pass over memory. For each op here Inductor is given the op's formula
in ATen's primitive ops (``torch.where``, ``expm1``, ``amax``, ...), the same formulas as ``csrc/ops/math``, which
it then fuses with the op's neighbours. Whether that beats torch_ext's kernel depends on the op: the choice is per
op, from ``python -m torch_ext.bench.model`` (``bench/results/``), and the defaults are :data:`DEFAULT_DECOMPOSED`.

Where the op stays:
  * ``torch.export`` and AOTInductor keep every op (an exported program says what it calls, and a deployed
    C++ program runs torch_ext's kernels, as eager code does);
  * CUDA keeps every op until the choice is measured on a GPU;
  * RReLU in training mode (random slopes), the in-place ops, and inputs the op would reject (its checks
    and error messages are the op's).

Inductor's FX-graph and AOTAutograd caches do not key on decompositions: a graph compiled before
:func:`set_decomposed_ops` keeps the choice it was compiled with. Call it before compiling, or set
``torch.compiler.config.cache_key_tag`` to tell the caches apart.
"""

import contextlib
import importlib.abc
import importlib.util
import sys
from typing import Callable, Dict, FrozenSet, Iterable, Iterator

import torch

from .functional import STEP_GRADS, SWISH_SIGN_ARGUMENT_CAP

__all__ = ["DECOMPOSABLE", "DEFAULT_DECOMPOSED", "decomposed_ops", "decomposing", "set_decomposed_ops"]

ops = torch.ops.torch_ext
_FLOATING = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def _opmath(t: torch.Tensor) -> torch.Tensor:
    # half and bfloat16 compute in float, as the kernels do.
    return t.float() if t.dtype in (torch.float16, torch.bfloat16) else t


def _where_by_sign(x, positive, nonpositive):
    # x > 0 ? positive : nonpositive, and x (NaN) where x is neither: scalar_math.h's select_by_sign.
    return torch.where(x > 0, positive, torch.where(x <= 0, nonpositive, x))


def _elu(self, alpha=1.0, scale=1.0, input_scale=1.0):
    x = _opmath(self)
    return torch.where(x > 0, x * scale, torch.expm1(x * input_scale) * (alpha * scale)).to(self.dtype)


def _elu_backward(grad_output, alpha, scale, input_scale, is_result, self_or_result):
    g, b = _opmath(grad_output), _opmath(self_or_result)
    negcoef = alpha * scale
    neg = g * input_scale * (b + negcoef) if is_result else g * input_scale * negcoef * torch.exp(b * input_scale)
    return torch.where(b > 0, g * scale, neg).to(grad_output.dtype)


def _softplus(self, beta=1.0, threshold=20.0):
    # softplus_math.h: log1p(exp(bx)) as max(bx, 0) + log1p(exp(-|bx|)), finite where exp(bx) overflows.
    x = _opmath(self)
    bx = x * beta
    tail = torch.log1p(torch.exp(-bx.abs())) / beta
    soft = torch.where(bx > 0, x + tail, tail)
    return torch.where(bx > threshold, x, soft).to(self.dtype)


def _softplus_backward(grad_output, self, beta, threshold):
    g, x = _opmath(grad_output), _opmath(self)
    bx = x * beta
    e = torch.exp(-bx.abs())
    soft = torch.where(bx > 0, g, g * e) / (e + 1)
    return torch.where(bx > threshold, g, soft).to(grad_output.dtype)


def _sigmoid(self):
    # sigmoid_math.h: e = exp(-|x|), 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0 (exp never overflows).
    x = _opmath(self)
    e = torch.exp(-x.abs())
    return (torch.where(x < 0, e, torch.ones_like(e)) / (1 + e)).to(self.dtype)


def _sigmoid_backward(grad_output, output):
    g, y = _opmath(grad_output), _opmath(output)
    return (g * (1 - y) * y).to(grad_output.dtype)


def _tanh(self):
    # tanh_math.h: for |x| < 0.625 an odd polynomial (float) or rational function (double) in x^2, beyond
    # 1 - 2 / (exp(2|x|) + 1); the sign of x (x itself at +-0).
    x = _opmath(self)
    a = x.abs()
    z = a * a
    if x.dtype == torch.float64:
        p = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z - 1.61468768441708447952e3
        q = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z + 4.84406305325125486048e3
        small = a + a * (z * p / q)
    else:
        p = (((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z + 1.33314422036e-1) * z \
            - 3.33332819422e-1
        small = p * z * a + a
    large = 1 - 2 / (torch.exp(a + a) + 1)
    r = torch.where(a < 0.625, small, large)
    return torch.where(x < 0, -r, torch.where(x == 0, x, r)).to(self.dtype)


def _tanh_backward(grad_output, output):
    g, y = _opmath(grad_output), _opmath(output)
    return (g * (1 - y * y)).to(grad_output.dtype)


def _logsigmoid(self):
    # logsigmoid_math.h: min(x, 0) - log1p(exp(-|x|)) (exp never overflows).
    x = _opmath(self)
    return (torch.where(x < 0, x, torch.zeros_like(x)) - torch.log1p(torch.exp(-x.abs()))).to(self.dtype)


def _logsigmoid_backward(grad_output, self):
    # g * sigmoid(-x): g * (1 / (1 + e)) for x < 0, g * (e / (1 + e)) for x >= 0, e = exp(-|x|).
    g, x = _opmath(grad_output), _opmath(self)
    e = torch.exp(-x.abs())
    return (g * (torch.where(x < 0, torch.ones_like(e), e) / (1 + e))).to(grad_output.dtype)


def _relu(self):
    return torch.where(self < 0, torch.zeros_like(self), self)


def _relu_backward(grad_output, output):
    return torch.where(output <= 0, torch.zeros_like(grad_output), grad_output)


def _leaky_relu(self, negative_slope=0.01):
    x = _opmath(self)
    return torch.where(x > 0, x, x * negative_slope).to(self.dtype)


def _leaky_relu_backward(grad_output, self, negative_slope, self_is_result):
    if self_is_result and negative_slope <= 0:
        return NotImplemented  # the kernel's error
    g, b = _opmath(grad_output), _opmath(self)
    return torch.where(b > 0, g, g * negative_slope).to(grad_output.dtype)




def _step_arguments_valid(grad, beta) -> bool:
    # Otherwise the op's own error (step.h's check_params).
    return grad in STEP_GRADS and beta == beta and 0 < beta < float("inf")


def _step(low: float, high: float) -> Callable:
    def forward(self, grad="identity", beta=5.0):
        if not _step_arguments_valid(grad, beta):
            return NotImplemented
        return torch.where(self < 0, torch.full_like(self, low),
                           torch.where(self >= 0, torch.full_like(self, high), self))

    forward.__name__ = "_sign" if low < 0 else "_heaviside"
    return forward


def _step_backward(scale: float) -> Callable:
    def backward(grad_output, self, grad, beta):
        # step_math.h's step_backward.
        if not _step_arguments_valid(grad, beta):
            return NotImplemented
        g, x = _opmath(grad_output), _opmath(self)
        if grad == "identity":
            return (g * scale).to(grad_output.dtype)
        a = x.abs()
        if grad == "swish_sign":
            u = torch.clamp_max(a * beta, SWISH_SIGN_ARGUMENT_CAP)
            h = torch.exp(-u * 0.5)
            e = h * h
            p = 1 + e
            d = ((2 * beta) * h) * ((2 - u * (1 - e) / p) / (p * p)) * h
        else:
            inside = 2 - 2 * a if grad == "approx_sign" else torch.ones_like(a)
            d = torch.where(a <= 1, inside, torch.where(a > 1, torch.zeros_like(a), x))
        return (g * (scale * d)).to(grad_output.dtype)

    backward.__name__ = "_sign_backward" if scale == 1 else "_heaviside_backward"
    return backward


def _channel_weight(weight: torch.Tensor, ndim: int) -> torch.Tensor:
    # One weight, or one per channel (dim 1), broadcast over the input.
    if weight.numel() == 1 or ndim < 2:
        return weight.reshape(())
    return weight.reshape((-1,) + (1,) * (ndim - 2))


def _prelu_supported(self, weight) -> bool:
    if weight.dim() > 1 or weight.dtype != self.dtype:
        return False
    channels = self.shape[1] if self.dim() >= 2 else 1
    return weight.numel() in (1, channels)


def _prelu(self, weight):
    if not _prelu_supported(self, weight):
        return NotImplemented
    x, w = _opmath(self), _opmath(_channel_weight(weight, self.dim()))
    return torch.where(x > 0, x, w * x).to(self.dtype)


def _prelu_backward(grad_output, self, weight):
    if not _prelu_supported(self, weight) or grad_output.shape != self.shape:
        return NotImplemented
    g, x, w = _opmath(grad_output), _opmath(self), _opmath(_channel_weight(weight, self.dim()))
    grad_self = _where_by_sign(x, g, w * g).to(self.dtype)
    term = torch.where(x > 0, torch.zeros_like(x), x * g)
    if weight.numel() == 1 or self.dim() < 2:
        grad_weight = term.sum()
    else:
        grad_weight = term.sum([d for d in range(self.dim()) if d != 1])
    return grad_self, grad_weight.reshape(weight.shape).to(weight.dtype)


def _rrelu(self, lower=0.125, upper=1.0 / 3, training=False, generator=None):
    if training:  # random slopes: the kernel's Philox stream
        return NotImplemented
    x = _opmath(self)
    return torch.where(x > 0, x, x * ((lower + upper) / 2)).to(self.dtype)


def _rrelu_backward(grad_output, self_or_result, noise, lower, upper, training, is_result):
    if training or self_or_result is None:
        return NotImplemented
    g, b = _opmath(grad_output), _opmath(self_or_result)
    return _where_by_sign(b, g, g * ((lower + upper) / 2)).to(grad_output.dtype)


def _softmax_input(self, dtype):
    if self.dim() == 0 or self.numel() == 0:
        return None
    x = self.to(dtype) if dtype is not None else self
    return _opmath(x), x.dtype


def _softmax(self, dim, dtype=None):
    prepared = _softmax_input(self, dtype)
    if prepared is None:
        return NotImplemented
    x, out_dtype = prepared
    e = torch.exp(x - x.amax(dim, keepdim=True))
    return (e / e.sum(dim, keepdim=True)).to(out_dtype)


def _log_softmax(self, dim, dtype=None):
    prepared = _softmax_input(self, dtype)
    if prepared is None:
        return NotImplemented
    x, out_dtype = prepared
    shifted = x - x.amax(dim, keepdim=True)
    return (shifted - torch.log(torch.exp(shifted).sum(dim, keepdim=True))).to(out_dtype)


def _softmax_backward(grad_output, output, dim, input_dtype):
    if output.dim() == 0 or output.numel() == 0:
        return NotImplemented
    g, y = _opmath(grad_output), _opmath(output)
    return (y * (g - (g * y).sum(dim, keepdim=True))).to(input_dtype)


def _log_softmax_backward(grad_output, output, dim, input_dtype):
    if output.dim() == 0 or output.numel() == 0:
        return NotImplemented
    g, y = _opmath(grad_output), _opmath(output)
    return (g - torch.exp(y) * g.sum(dim, keepdim=True)).to(input_dtype)


# Each forward op with its backward op(s): a row decomposes both or neither.
_DECOMPOSITIONS: Dict[str, Dict[str, Callable]] = {
    "elu": {"elu": _elu, "elu_backward": _elu_backward},
    "softplus": {"softplus": _softplus, "softplus_backward": _softplus_backward},
    "prelu": {"prelu": _prelu, "prelu_backward": _prelu_backward},
    "rrelu": {"rrelu": _rrelu, "rrelu_backward": _rrelu_backward},
    "softmax": {"softmax": _softmax, "softmax_backward": _softmax_backward},
    "log_softmax": {"log_softmax": _log_softmax, "log_softmax_backward": _log_softmax_backward},
    "sigmoid": {"sigmoid": _sigmoid, "sigmoid_backward": _sigmoid_backward},
    "tanh": {"tanh": _tanh, "tanh_backward": _tanh_backward},
    "logsigmoid": {"logsigmoid": _logsigmoid, "logsigmoid_backward": _logsigmoid_backward},
    "relu": {"relu": _relu, "relu_backward": _relu_backward},
    "leaky_relu": {"leaky_relu": _leaky_relu, "leaky_relu_backward": _leaky_relu_backward},
    "sign": {"sign": _step(-1.0, 1.0), "sign_backward": _step_backward(1.0)},
    "heaviside": {"heaviside": _step(0.0, 1.0), "heaviside_backward": _step_backward(0.5)},
}

#: The ops that have a decomposition (celu and selu are elu with other constants).
DECOMPOSABLE: FrozenSet[str] = frozenset(_DECOMPOSITIONS)

#: Decomposed unless :func:`set_decomposed_ops` says otherwise: where Inductor's fused code beat torch_ext's
#: kernel in ``python -m torch_ext.bench.model`` (bench/results/cpu-2026-12-06-inductor-decompositions/).
DEFAULT_DECOMPOSED: FrozenSet[str] = frozenset({"elu", "prelu", "rrelu", "softmax", "log_softmax", "sigmoid", "tanh",
                                                 "relu", "sign", "heaviside"})

_decomposed = set(DEFAULT_DECOMPOSED)


def decomposed_ops() -> FrozenSet[str]:
    """The ops Inductor is given a decomposition for (on CPU, outside export and AOTInductor)."""
    return frozenset(_decomposed)


def set_decomposed_ops(names: Iterable[str]) -> None:
    """Decompose exactly these ops (a subset of :data:`DECOMPOSABLE`) in graphs compiled from now on;
    ``set_decomposed_ops(())`` keeps every op a torch_ext kernel, ``set_decomposed_ops(DECOMPOSABLE)`` fuses all."""
    if isinstance(names, str):
        raise TypeError(f"torch_ext.inductor.set_decomposed_ops: expected names to be a collection of op names, "
                        f"got the string {names!r}")
    wanted = set(names)
    unknown = wanted - DECOMPOSABLE
    if unknown:
        raise ValueError(f"torch_ext.inductor.set_decomposed_ops: unknown op(s) {sorted(unknown)}; "
                         f"expected names from {sorted(DECOMPOSABLE)}")
    _decomposed.clear()
    _decomposed.update(wanted)


@contextlib.contextmanager
def decomposing(names: Iterable[str]) -> Iterator[None]:
    """:func:`set_decomposed_ops` for what is compiled inside the block (a compiled function compiles at its
    first call); the previous choice afterwards."""
    saved = decomposed_ops()
    set_decomposed_ops(names)
    try:
        yield
    finally:
        set_decomposed_ops(saved)


def _tensors(args):
    for a in args:
        if isinstance(a, torch.Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from _tensors(a)


def _keep(op) -> object:
    """Inductor keeps the op: an extern kernel, as its implicit fallback for a custom op would make it.
    (Inductor refuses an implicit fallback for an op in its decomposition table, so it is made here.)"""
    from torch._inductor import lowering

    if op not in lowering.lowerings:
        tag = lowering.get_layout_constraint_tag(op, with_default=True)
        lowering.make_fallback(op, layout_constraint=lowering.tag_to_layout_constraint(tag), override_decomp=True)
    return NotImplemented


def _guarded(row: str, op, formula: Callable) -> Callable:
    """The formula where the row is chosen and applies; elsewhere Inductor keeps the op."""
    from torch._inductor.virtualized import V

    def decomposition(*args, **kwargs):
        if row not in _decomposed or V.aot_compilation:
            return _keep(op)
        tensors = list(_tensors(list(args) + list(kwargs.values())))
        if any(t.device.type != "cpu" or t.dtype not in _FLOATING for t in tensors):
            return _keep(op)
        result = formula(*args, **kwargs)
        return _keep(op) if result is NotImplemented else result

    decomposition.__name__ = f"torch_ext_{formula.__name__.lstrip('_')}_decomposition"
    return decomposition


def _register() -> None:
    from torch._inductor import decomposition as inductor_decomposition

    table = inductor_decomposition.decompositions
    for row, formulas in _DECOMPOSITIONS.items():
        for op_name, formula in formulas.items():
            op = getattr(ops, op_name).default
            table[op] = _guarded(row, op, formula)
    # select_decomp_table() may serve a cached copy of the table.
    fast = getattr(inductor_decomposition, "fast_random_decomps", None)
    if fast is not None and hasattr(fast, "cache_clear"):
        fast.cache_clear()


_INDUCTOR_MODULE = "torch._inductor.decomposition"


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Registers the decompositions when Inductor's table is first imported (at the first torch.compile), so
    that ``import torch_ext`` does not pay for importing Inductor."""

    def find_spec(self, fullname, path, target=None):
        if fullname != _INDUCTOR_MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _register()

        spec.loader.exec_module = exec_then_register
        return spec


if _INDUCTOR_MODULE in sys.modules:
    _register()
else:
    sys.meta_path.insert(0, _RegisterAfterImport())
