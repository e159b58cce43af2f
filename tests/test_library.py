"""The op library as a build artifact: linkable from plain C++ (no libpython) and up to date."""

import pathlib
import shutil
import subprocess

import pytest
import torch

import torch_ext

ROOT = pathlib.Path(__file__).resolve().parents[1]
LIB = pathlib.Path(torch_ext.__file__).parent / "lib" / "libtorch_ext_ops.so"


def needed_libraries(path: pathlib.Path) -> list:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs readelf")
def test_op_library_does_not_link_python():
    needed = needed_libraries(LIB)
    assert any(n.startswith("libtorch") or n.startswith("libc10") for n in needed), needed
    assert not [n for n in needed if "python" in n], needed


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs readelf")
def test_python_module_links_the_op_library():
    (module,) = pathlib.Path(torch_ext._C.__file__).parent.glob("_C*.so")
    assert "libtorch_ext_ops.so" in needed_libraries(module)


# Each op's registered names, by the source family that holds its kernels (csrc/ops/{cpu,cuda}/<family>_kernel.*).
OPS_BY_FAMILY = {
    "elu": ("elu", "elu_", "elu_backward"),
    "prelu": ("prelu", "prelu_backward"),
    "rrelu": ("rrelu", "rrelu_", "rrelu_with_noise", "rrelu_with_noise_", "rrelu_backward"),
    "softplus": ("softplus", "softplus_backward"),
    "softmax": ("softmax", "log_softmax", "softmax_backward", "log_softmax_backward"),
}


def test_ops_are_registered_with_every_kernel():
    for family, names in OPS_BY_FAMILY.items():
        # NB: a family's CUDA kernels are required once its .cu file is in the tree (an op's CUDA file may land
        # after its CPU one).
        cuda = torch_ext.build_info()["cuda"] == "ON" and (ROOT / "csrc" / "ops" / "cuda" / f"{family}_kernel.cu").exists()
        for name in names:
            op = getattr(torch.ops.torch_ext, name).default
            for key in ("CPU", "Meta", "Autograd"):
                assert torch._C._dispatch_has_kernel_for_dispatch_key(op.name(), key), (name, key)
            if cuda:
                assert torch._C._dispatch_has_kernel_for_dispatch_key(op.name(), "CUDA"), name


def test_unchanged_tree_rebuilds_nothing():
    build = ROOT / "build" / "cmake"
    if not (build / "build.ninja").exists():
        pytest.skip("not built with the CMake build folder build/cmake")
    ninja = shutil.which("ninja")
    if ninja is None:
        pytest.skip("needs ninja")
    # NB: a real run, not -n: a dry run cannot tell whether the glob check re-runs CMake. After
    # `make`, this compiles nothing and says so.
    out = subprocess.run([ninja, "-C", str(build)], capture_output=True, text=True, check=True).stdout
    assert "no work to do" in out, out
