"""What is particular to sigmoid and tanh; the checks every op shares run over their rows of the op table
(torch_ext/testing/op_db.py, tests/test_ops.py).

Integer and bool inputs give a result of the default float dtype, as torch's; the kernels' formulas keep their digits
where ATen's lose them (sigmoid's far negative side, judged against float64 truth); and the seed's identity
softplus'(x) = sigmoid(x).
"""

import pytest
import torch
import torch.nn.functional as F

import torch_ext.functional as TF
from common_utils import DEVICES, FLOAT_DTYPES, assert_close, assert_same_zero_signs, special_values

ops = torch.ops.torch_ext
SATURATING = [pytest.param(name, id=name) for name in ("sigmoid", "tanh")]
INTEGER_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.bool]


def _integers(dtype: torch.dtype, device: str) -> torch.Tensor:
    if dtype == torch.bool:
        return torch.tensor([True, False, True], device=device)
    low = 0 if dtype == torch.uint8 else -100
    return torch.arange(low, low + 200, dtype=dtype, device=device).reshape(4, 50)


@pytest.mark.parametrize("default_dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("dtype", INTEGER_DTYPES, ids=str)
@pytest.mark.parametrize("name", SATURATING)
@pytest.mark.parametrize("device", DEVICES)
def test_integer_input_gives_default_float(device, name, dtype, default_dtype):
    x = _integers(dtype, device)
    saved = torch.get_default_dtype()
    torch.set_default_dtype(default_dtype)
    try:
        expected = getattr(torch, name)(x)
        out = getattr(TF, name)(x)
        meta = getattr(ops, name)(x.to("meta"))
    finally:
        torch.set_default_dtype(saved)
    assert out.dtype == expected.dtype == meta.dtype == default_dtype
    assert_close(out, expected)


@pytest.mark.parametrize("name", SATURATING)
@pytest.mark.parametrize("device", DEVICES)
def test_integer_input_keeps_its_layout(device, name):
    x = torch.arange(-60, 60, device=device).reshape(2, 3, 4, 5).to(memory_format=torch.channels_last)
    out = getattr(ops, name)(x)
    assert out.stride() == getattr(torch, name)(x).stride() == x.stride()


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("name", SATURATING)
@pytest.mark.parametrize("device", DEVICES)
def test_special_values_match_float64_truth(device, name, dtype):
    # Special values (0, -0, NaN, +-inf, subnormals, the far negative side): within an ulp or two of the float64
    # truth rounded to dtype, zero signs included. For sigmoid below -88.7 in float ATen's 1 / (1 + exp(-x)) is 0
    # where the truth is a subnormal; ours keeps it.
    x = special_values(dtype).to(device)
    truth = getattr(torch, name)(x.double())
    out = getattr(ops, name)(x)
    fi = torch.finfo(dtype)
    ulps = 1 if dtype in (torch.float16, torch.bfloat16) else 4
    torch.testing.assert_close(out.double(), truth.to(dtype).double(), rtol=ulps * fi.eps,
                               atol=2 * fi.smallest_normal * fi.eps, equal_nan=True)
    assert_same_zero_signs(out, truth.to(dtype))


@pytest.mark.parametrize("device", DEVICES)
def test_sigmoid_far_negative_side_keeps_its_digits(device):
    x = torch.tensor([-90.0, -95.0, -100.0, -103.0], device=device)
    truth = torch.sigmoid(x.double())
    out = ops.sigmoid(x)
    assert bool((torch.sigmoid(x) == 0).all()), "ATen's float sigmoid is 0 here (exp(-x) overflows)"
    assert bool((out > 0).all())
    assert_close(out.double(), truth.to(torch.float32).double(), rtol=1e-6, atol=2 ** -149)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_softplus_derivative_is_sigmoid(device, dtype):
    # The seed's identity: d/dx log(1 + e^x) = 1 / (1 + e^-x). softplus's gradient and sigmoid agree to the dtype's
    # rounding (each is computed in op-math and rounded once).
    x = torch.linspace(-15, 15, 3001, dtype=torch.float64).to(device=device, dtype=dtype).requires_grad_()
    (grad,) = torch.autograd.grad(TF.softplus(x).sum(), x)
    assert_close(grad, TF.sigmoid(x.detach()), rtol=2 * torch.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("name", SATURATING)
@pytest.mark.parametrize("device", DEVICES)
def test_inplace_rejects_integer_input(device, name):
    x = torch.arange(-3, 3, device=device)
    with pytest.raises(RuntimeError, match=rf"^{name}_: expected self to be a floating-point tensor"):
        getattr(ops, name + "_")(x)
    with pytest.raises(RuntimeError):  # torch's own refusal
        getattr(torch, name + "_")(x.clone())
    assert torch.equal(x, torch.arange(-3, 3, device=device))


@pytest.mark.parametrize("name", SATURATING)
@pytest.mark.parametrize("device", DEVICES)
def test_backward_reads_the_result(device, name):
    # The backward op takes the forward's output, as ATen's sigmoid_backward and tanh_backward.
    x = torch.randn(100, dtype=torch.float64, device=device)
    y = getattr(torch, name)(x)
    g = torch.randn_like(x)
    expected = getattr(torch.ops.aten, name + "_backward")(g, y)
    torch.testing.assert_close(getattr(ops, name + "_backward")(g, y), expected, rtol=1e-15, atol=0)

    # Autograd saves the result, not the input: changing the input after the forward does not matter.
    leaf = torch.randn(10, dtype=torch.float64, device=device, requires_grad=True)
    inp = leaf * 1
    out = getattr(TF, name)(inp)
    inp.add_(1)
    out.sum().backward()
    torch.testing.assert_close(leaf.grad, getattr(torch.ops.aten, name + "_backward")(torch.ones_like(out), out.detach()),
                               rtol=1e-15, atol=0)
