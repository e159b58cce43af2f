"""torch_ext.build_info(): how the op library was built, and that it matches what is registered."""

import os
import re

import pytest
import torch

import torch_ext
from common_utils import CUDA_AVAILABLE, parse_capabilities

KEYS = ["version", "torch_version", "cuda", "cuda_archs", "cpu_capability", "cpu_capabilities_compiled"]
OPS = ["elu", "elu_", "elu_backward"]
COMPOSITE_OPS = ["celu", "celu_", "selu", "selu_"]
NVCC = "/usr/local/cuda/bin/nvcc"


def _registered_keys(op: str) -> set:
    """Dispatch keys with a kernel registered for torch_ext::<op> (alias keys as written, e.g. 'Autograd')."""
    dump = torch._C._dispatch_dump(f"torch_ext::{op}")
    keys = set()
    for line in dump.splitlines():
        m = re.match(r"^(\w+)(\[alias\])?: registered at", line)
        if m:
            keys.add(m.group(1))
    return keys


@pytest.fixture(scope="module")
def info():
    return torch_ext.build_info()


class TestBuildInfo:
    def test_keys_are_strings(self, info):
        for key in KEYS:
            assert key in info, f"build_info() lacks {key!r}: {sorted(info)}"
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in info.items()), info

    def test_versions(self, info):
        assert info["version"] == torch_ext.__version__
        # Built against the torch that runs it (a local suffix such as +cu130 may be dropped).
        assert info["torch_version"].split("+")[0] == torch.__version__.split("+")[0], info["torch_version"]

    def test_cpu_capability(self, info):
        compiled = parse_capabilities(info["cpu_capabilities_compiled"])
        assert compiled and "DEFAULT" in compiled, compiled
        assert len(set(compiled)) == len(compiled), compiled
        assert info["cpu_capability"] in compiled, (info["cpu_capability"], compiled)
        here = torch.backends.cpu.get_cpu_capability()
        if here in compiled:
            # The op library dispatches to the ISA PyTorch picked (ATEN_CPU_CAPABILITY included).
            assert info["cpu_capability"] == here
        if "x86" in os.uname().machine or os.uname().machine in ("x86_64", "AMD64"):
            assert {"AVX2", "AVX512"} <= set(compiled), compiled

    def test_cuda_flag(self, info):
        assert info["cuda"] in ("ON", "OFF")
        if os.environ.get("TORCH_EXT_WITH_CUDA") == "0":
            assert info["cuda"] == "OFF"
        elif os.path.exists(NVCC) and torch.version.cuda is not None:
            assert info["cuda"] == "ON", "nvcc is present: the build should have compiled the CUDA kernels"
        if CUDA_AVAILABLE:
            assert info["cuda"] == "ON", "a GPU is visible but the library was built without CUDA"
        if info["cuda"] == "ON":
            archs = [a for a in re.split(r"[\s,;]+", info["cuda_archs"]) if a]
            assert archs, info["cuda_archs"]
            assert all(re.fullmatch(r"\d+\.\d+[a-z]?(\+PTX)?", a) for a in archs), archs
            if CUDA_AVAILABLE:
                major, minor = torch.cuda.get_device_capability()
                assert any(a.startswith(f"{major}.") for a in archs), (archs, (major, minor))

    @pytest.mark.parametrize("op", OPS)
    def test_kernels_registered(self, info, op):
        keys = _registered_keys(op)
        assert {"CPU", "Meta", "Autograd"} <= keys, keys
        assert "CompositeImplicitAutograd" not in keys, keys
        assert ("CUDA" in keys) == (info["cuda"] == "ON"), (keys, info["cuda"])

    @pytest.mark.parametrize("op", COMPOSITE_OPS)
    def test_composite_ops_registered(self, op):
        keys = _registered_keys(op)
        assert "CompositeImplicitAutograd" in keys, keys
