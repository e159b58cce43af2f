"""Under autocast, torch_ext layers follow torch's policy: each layer's output dtype (and value, within
the reduced dtype's tolerance) equals its torch.nn twin's under the same autocast, forward and backward."""

import pytest
import torch
import torch.nn as nn

from common_utils import CUDA_AVAILABLE
from stack_utils import torch_twin
from torch_ext.demo.model import classifier
from torch_ext.testing import OptOut, op_db

# (device, autocast dtype): CPU autocast is bfloat16 (float16 also exists but is rarely used); CUDA float16.
SETTINGS = [
    pytest.param("cpu", torch.bfloat16, id="cpu-bfloat16"),
    pytest.param("cpu", torch.float16, id="cpu-float16"),
    pytest.param("cuda", torch.float16, id="cuda-float16",
                 marks=pytest.mark.skipif(not CUDA_AVAILABLE, reason="CUDA is not available")),
    pytest.param("cuda", torch.bfloat16, id="cuda-bfloat16",
                 marks=pytest.mark.skipif(not CUDA_AVAILABLE, reason="CUDA is not available")),
]

# Each layer of the op table with its non-default arguments, in eval mode (RReLU's fixed slope: torch.nn's twin
# gives the same values). The inputs have 16 features, after the layer's inner dims (Softmax2d: (N, C, H, W)).
LAYERS = {row.module.name: (lambda m=row.module: m.cls(**m.ctor_kwargs).eval()) for row in op_db}
INNER_DIMS = {row.module.name: row.module.inner_dims for row in op_db}
# One layer's outputs: one rounding of the dtype apart at most (both sides compute in float and round once).
TOL = {torch.bfloat16: dict(rtol=1.6e-2, atol=1e-2), torch.float16: dict(rtol=2e-3, atol=2e-3)}
# Two roundings of the dtype (unit roundoff 2^-8 and 2^-11), normwise.
SLACK = {torch.bfloat16: 2 * 2.0**-8, torch.float16: 2 * 2.0**-11}


def _run(model, x, device, dtype):
    """Output, and the gradients of the input and of each parameter (cloned; the model's are cleared),
    of the loss sum(y^2) under autocast (dtype None: without autocast)."""
    x = x.detach().clone().requires_grad_()
    with torch.autocast(device_type=device, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        y = model(x)
    y.float().square().sum().backward()
    grads = {"input": x.grad}
    for name, p in model.named_parameters():
        grads[name] = p.grad.clone()
        p.grad = None
    return y.detach(), grads


def _error(t, exact):
    """Normwise relative error of t against a float32 result."""
    diff = torch.linalg.vector_norm((t.double() - exact.double()).flatten())
    scale = torch.linalg.vector_norm(exact.double().flatten())
    return (diff / scale).item() if scale > 0 else diff.item()


def _compare(model, device, dtype, x, elementwise=True):
    """Under autocast the torch_ext model gives the output dtype and gradient dtypes of its torch.nn twin,
    and is as accurate: its outputs and gradients are no further from the float32 results (no autocast)
    than torch.nn's, give or take two roundings. NB: gradients cannot be compared elementwise with torch's:
    an output one rounding apart (both are right) changes the backward's inputs by as much, and a
    Linear's weight gradient sums those differences over the batch; through a deep model torch's own
    bfloat16 input gradient is ~10 % off the float32 one (measured on the classifier)."""
    reference = torch_twin(model)
    y, grads = _run(model, x, device, dtype)
    y_ref, grads_ref = _run(reference, x, device, dtype)
    y32, grads32 = _run(reference, x, device, None)
    assert y.dtype == y_ref.dtype, (y.dtype, y_ref.dtype)
    if elementwise:
        torch.testing.assert_close(y.float(), y_ref.float(), **TOL[dtype])
    pairs = [("output", y, y_ref, y32)] + [(k, grads[k], grads_ref[k], grads32[k]) for k in grads_ref]
    for what, ours, theirs, exact in pairs:
        assert ours.dtype == theirs.dtype, (what, ours.dtype, theirs.dtype)
        e_ours, e_theirs = _error(ours, exact), _error(theirs, exact)
        assert e_ours <= 1.5 * e_theirs + SLACK[dtype], (
            f"{what}: error {e_ours:.3g} against float32, torch.nn's is {e_theirs:.3g}")
    return y


@pytest.mark.parametrize("row", [pytest.param(row, id=row.name) for row in op_db])
@pytest.mark.parametrize("key", ["AutocastCPU", "AutocastCUDA"])
def test_autocast_kernels_mirror_aten(row, key):
    # A row's forward op has an autocast kernel for a device exactly when its ATen twin has one, so a torch that
    # changes its lists shows here, and exactly where the row says (the CUDA policy is checked on machines without
    # a GPU too). The row's other ops (in-place, backward) have none.
    if isinstance(row.autocast, OptOut):
        pytest.skip(row.autocast.reason)
    op, twin = row.forward_op, row.autocast.twin
    ours = torch._C._dispatch_has_kernel_for_dispatch_key(f"torch_ext::{op}", key)
    theirs = torch._C._dispatch_has_kernel_for_dispatch_key(f"aten::{twin}", key)
    assert ours == theirs, f"torch_ext::{op} {'has' if ours else 'lacks'} a {key} kernel; aten::{twin} {'has' if theirs else 'lacks'} one"
    assert ours == (key in row.autocast.keys), (op, key, sorted(row.autocast.keys))
    for other in set(row.ops) - {op}:
        assert not torch._C._dispatch_has_kernel_for_dispatch_key(f"torch_ext::{other}", key), (other, key)


@pytest.mark.parametrize("device,dtype", SETTINGS)
class TestAutocast:
    @pytest.mark.parametrize("name", list(LAYERS))
    def test_after_linear(self, device, dtype, name):
        # Linear runs in the autocast dtype, so the layer sees a reduced-precision input.
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(16, 16), LAYERS[name]()).to(device)
        _compare(model, device, dtype, torch.randn(8, *INNER_DIMS[name], 16, device=device) * 2)

    @pytest.mark.parametrize("name", list(LAYERS))
    def test_float32_input(self, device, dtype, name):
        # A float32 input straight into the layer: the dtype autocast gives it (or leaves) is torch's.
        torch.manual_seed(0)
        model = nn.Sequential(LAYERS[name]()).to(device)
        y = _compare(model, device, dtype, torch.randn(8, *INNER_DIMS[name], 16, device=device) * 2)
        assert y.dtype in (torch.float32, dtype)

    def test_classifier(self, device, dtype):
        torch.manual_seed(0)
        model = classifier(hidden=32, dropout=0.0).to(device).eval()
        y = _compare(model, device, dtype, torch.rand(16, 64, device=device), elementwise=False)
        assert y.shape == (16, 10)
