"""The op library as a build artifact: linkable from plain C++ (no libpython) and up to date."""

import pathlib
import re
import shutil
import subprocess

import pytest
import torch

import torch_ext
from torch_ext.testing import op_db

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


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs readelf")
def test_libraries_use_the_shared_libstdcxx():
    # A private static copy of libstdc++ (a g++ that adds -static-libstdc++) has its own locale state:
    # on the GPU image, formatting a number in an error message then crashed the process.
    (module,) = pathlib.Path(torch_ext._C.__file__).parent.glob("_C*.so")
    for path in (LIB, module):
        assert "libstdc++.so.6" in needed_libraries(path), path


@pytest.mark.skipif(shutil.which("nm") is None, reason="needs nm")
def test_libraries_hold_no_copy_of_libstdcxx():
    # NEEDED alone is not enough: a static copy linked beside it still answers every call from inside the
    # library (on the GPU image the crash was in the library's own std::ostream::_M_insert<double>).
    (module,) = pathlib.Path(torch_ext._C.__file__).parent.glob("_C*.so")
    for path in (LIB, module):
        out = subprocess.run(["nm", "-D", "--defined-only", str(path)], capture_output=True, text=True, check=True)
        # std::basic_ostream<char> members and std::locale: defined only in libstdc++ itself.
        copied = [line for line in out.stdout.splitlines() if line.split()[-1].startswith(("_ZNSo", "_ZNSt6locale"))]
        assert not copied, (path, copied[:5])


def test_error_messages_format_numbers():
    # The failure above, seen from Python: the numbers in a message are printed, and nothing crashes.
    x = torch.ones(4, 3)
    with pytest.raises(RuntimeError, match=r"got alpha = 0\b"):
        torch.ops.torch_ext.celu(x, 0.0)
    with pytest.raises(RuntimeError, match=r"grad_output \[4, 3\], got \[2, 3\]"):
        torch.ops.torch_ext.softplus_backward(x, x[:2], 1.0, 20.0)
    with pytest.raises(RuntimeError, match=r"got 5$"):
        torch.ops.torch_ext.prelu(x, torch.ones(5))


def test_ops_are_registered_with_every_kernel():
    cuda = torch_ext.build_info()["cuda"] == "ON"
    for name in sorted({op for row in op_db for op in row.ops}):
        op = getattr(torch.ops.torch_ext, name).default
        if torch._C._dispatch_has_kernel_for_dispatch_key(op.name(), "CompositeImplicitAutograd"):
            continue  # celu and selu: written in terms of elu, whose kernels are checked
        for key in ("CPU", "Meta", "Autograd"):
            assert torch._C._dispatch_has_kernel_for_dispatch_key(op.name(), key), (name, key)
        if cuda:
            assert torch._C._dispatch_has_kernel_for_dispatch_key(op.name(), "CUDA"), name


def test_unchanged_tree_rebuilds_nothing():
    build = ROOT / "build" / "cmake"
    if not (build / "build.ninja").exists():
        pytest.skip("not built with the CMake build folder build/cmake")
    # The ninja that made the tree: another version (e.g. the system's 1.11 beside pip's 1.13) does not read
    # its log and rebuilds.
    cache = (build / "CMakeCache.txt").read_text()
    made_by = re.search(r"^CMAKE_MAKE_PROGRAM:[A-Z]+=(.+)$", cache, re.MULTILINE)
    ninja = made_by.group(1).strip() if made_by else shutil.which("ninja")
    if ninja is None:
        pytest.skip("needs ninja")
    # NB: a real run, not -n: a dry run cannot tell whether the glob check re-runs CMake. After
    # `make`, this compiles nothing and says so.
    out = subprocess.run([ninja, "-C", str(build)], capture_output=True, text=True, check=True).stdout
    assert "no work to do" in out, out
