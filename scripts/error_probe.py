"""Raise a few of torch_ext's argument errors on one device and print their messages.

gpu_check.sh runs this in a subprocess before the test suite: on one GPU image, errors whose messages
format numbers crashed the process (SIGSEGV) instead of raising, so a crash here is diagnosed and the
build retried with another compiler before the suite runs. Exit 0: every call raised RuntimeError.
Usage: python scripts/error_probe.py cpu|cuda
"""

import sys

import torch

import torch_ext  # noqa: F401

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
x = torch.ones(4, 3, device=device)
calls = {
    "message without numbers (dtype)": lambda: torch.ops.torch_ext.elu(x.long()),
    "message with a double (celu alpha)": lambda: torch.ops.torch_ext.celu(x, 0.0),
    "message with sizes (softplus_backward)": lambda: torch.ops.torch_ext.softplus_backward(x, x[:2], 1.0, 20.0),
    "message with ints (prelu weight)": lambda: torch.ops.torch_ext.prelu(x, torch.ones(5, device=device)),
}
failed = 0
for name, call in calls.items():
    print(f"{device}: {name}: ", end="", flush=True)
    try:
        call()
        print("NO ERROR RAISED")
        failed += 1
    except RuntimeError as e:
        print("raised:", str(e).splitlines()[0][:160], flush=True)
sys.exit(1 if failed else 0)
