"""What is particular to relu and leaky_relu; the checks every op shares run over their rows of the op table
(torch_ext/testing/op_db.py, tests/test_ops.py).

relu keeps an integer input's dtype and refuses bool, keeps -0 and NaN, and its gradient is zero at 0 and passes at a
NaN result (threshold_backward's rule); leaky_relu's in-place form under autograd refuses a negative slope.
"""

import math

import pytest
import torch
import torch.nn.functional as F

import torch_ext.functional as TF
import torch_ext.nn as TN
from common_utils import DEVICES, FLOAT_DTYPES, assert_same_zero_signs

ops = torch.ops.torch_ext


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64], ids=str)
@pytest.mark.parametrize("device", DEVICES)
def test_relu_keeps_integer_dtype(device, dtype):
    info = torch.iinfo(dtype)
    x = torch.tensor([info.min, info.min + 1, -1, 0, 1, info.max - 1, info.max], dtype=torch.int64)
    x = x.clamp(info.min, info.max).to(dtype).to(device).repeat(300)  # long enough for the vector loops
    expected = torch.relu(x)
    out = TF.relu(x)
    assert out.dtype == dtype == ops.relu(x.to("meta")).dtype
    assert torch.equal(out, expected)
    y = x.clone()
    TF.relu(y, inplace=True)
    assert torch.equal(y, expected)
    assert torch.equal(TN.ReLU()(x), expected)


@pytest.mark.parametrize("device", DEVICES)
def test_relu_refuses_bool(device):
    x = torch.tensor([True, False], device=device)
    with pytest.raises(RuntimeError, match="^relu: expected self to be a floating-point .* or integer tensor, got Bool"):
        ops.relu(x)
    with pytest.raises(RuntimeError):  # torch's own refusal
        torch.relu(x)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_relu_zero_and_nan(device, dtype):
    x = torch.tensor([-0.0, 0.0, math.nan, -math.inf, math.inf, -1.0, 1.0], dtype=dtype, device=device)
    x = x.repeat(40).requires_grad_()
    out = TF.relu(x)
    expected = torch.relu(x.detach())
    assert torch.equal(out.isnan(), expected.isnan())
    assert torch.equal(out.nan_to_num(), expected.nan_to_num())
    assert_same_zero_signs(out, expected)
    (grad,) = torch.autograd.grad(out, x, torch.full_like(x, 3.0))
    (expected_grad,) = torch.autograd.grad(torch.relu(x), x, torch.full_like(x, 3.0))
    # 0 at +-0 and at negatives; 3 at NaN (a NaN result is not <= 0) and at positives.
    assert torch.equal(grad, expected_grad)
    assert grad[:7].tolist() == [0.0, 0.0, 3.0, 0.0, 3.0, 0.0, 3.0]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("device", DEVICES)
def test_leaky_relu_zero_and_nan(device, dtype):
    x = torch.tensor([-0.0, 0.0, math.nan, -math.inf, math.inf, -1.0, 1.0], dtype=dtype, device=device)
    x = x.repeat(40).requires_grad_()
    for slope in (0.01, -0.5, 0.0):
        out = TF.leaky_relu(x, slope)
        expected = F.leaky_relu(x.detach(), slope)
        assert torch.equal(out.isnan(), expected.isnan())
        assert torch.equal(out.nan_to_num(), expected.nan_to_num())
        assert_same_zero_signs(out, expected)
        (grad,) = torch.autograd.grad(out, x, torch.ones_like(x))
        (expected_grad,) = torch.autograd.grad(F.leaky_relu(x, slope), x, torch.ones_like(x))
        # negative_slope at 0 and at NaN (neither is > 0), 1 at positives.
        assert torch.equal(grad, expected_grad), slope


@pytest.mark.parametrize("slope", [-0.1, -2.0])
@pytest.mark.parametrize("api", ["functional", "module", "op"])
@pytest.mark.parametrize("device", DEVICES)
def test_leaky_relu_inplace_refuses_a_negative_slope_under_autograd(device, api, slope):
    # As torch's: the in-place form's backward reads the result, which tells the input's side only for a slope
    # >= 0; the error comes at backward time, as torch's does.
    leaf = torch.randn(8, device=device, requires_grad=True)
    x = leaf * 1
    if api == "functional":
        y = TF.leaky_relu(x, slope, inplace=True)
    elif api == "module":
        y = TN.LeakyReLU(slope, inplace=True)(x)
    else:
        ops.leaky_relu_(x, slope)
        y = x
    with pytest.raises(RuntimeError, match=r"^leaky_relu_backward: in-place leaky_relu backward .* negative slope"):
        y.sum().backward()
    ref = F.leaky_relu(leaf * 1, slope, inplace=True)
    with pytest.raises(RuntimeError, match="In-place leakyReLu backward"):
        ref.sum().backward()


@pytest.mark.parametrize("slope", [0.3, 0.0])
@pytest.mark.parametrize("device", DEVICES)
def test_leaky_relu_inplace_backward_matches_torch(device, slope):
    leaf = torch.randn(1000, dtype=torch.float64, device=device, requires_grad=True)
    ours = TF.leaky_relu(leaf * 1, slope, inplace=True)
    (grad,) = torch.autograd.grad(ours, leaf, torch.ones_like(ours))
    theirs = F.leaky_relu(leaf * 1, slope, inplace=True)
    (expected,) = torch.autograd.grad(theirs, leaf, torch.ones_like(theirs))
    assert torch.equal(ours, theirs) and torch.equal(grad, expected)
