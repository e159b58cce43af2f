"""Build torch_ext: the op library (CMake, shared with C++ users) and the Python module _C.

    pip install --no-build-isolation -e .

The kernels are compiled once, by CMake, into libtorch_ext_ops.so (no libpython in it); the
pybind11 module torch_ext._C (a torch.utils.cpp_extension CppExtension) links that library and
finds it at $ORIGIN/lib.

Environment:
    TORCH_EXT_WITH_CUDA=0|1   compile the CUDA kernels (default: when nvcc is found and torch has CUDA)
    TORCH_CUDA_ARCH_LIST      CUDA archs (default "9.0"; a release lists them all, see README)
    MAX_JOBS                  parallel compile jobs (default: the number of CPUs)
    TORCH_EXT_BUILD_DIR       CMake build folder (default: build/cmake)
    TORCH_EXT_BUILD_TESTS=0   skip the GoogleTest suite (it needs GoogleTest installed)
"""

import os
import shutil
import subprocess
import sys

import torch
from setuptools import find_packages, setup
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.environ.get("TORCH_EXT_BUILD_DIR", os.path.join(ROOT, "build", "cmake"))
LIB_NAME = "libtorch_ext_ops.so"
VERSION = "0.1.0"


def with_cuda() -> bool:
    flag = os.environ.get("TORCH_EXT_WITH_CUDA")
    if flag is not None:
        return flag == "1"
    # NB: nvcc decides, not a visible GPU: the build machine may have none.
    nvcc = shutil.which("nvcc") or (CUDA_HOME and os.path.join(CUDA_HOME, "bin", "nvcc"))
    return bool(torch.version.cuda) and bool(nvcc) and os.path.exists(nvcc)


class CMakeThenExtension(BuildExtension):
    """Builds libtorch_ext_ops.so with CMake, puts it in torch_ext/lib, then builds _C against it."""

    def run(self):
        cuda = with_cuda()
        jobs = os.environ.get("MAX_JOBS", str(os.cpu_count() or 1))
        configure = [
            "cmake", "-S", ROOT, "-B", BUILD_DIR, "-G", "Ninja",
            f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
            f"-DTORCH_EXT_WITH_CUDA={'ON' if cuda else 'OFF'}",
            f"-DTORCH_CUDA_ARCH_LIST={os.environ.get('TORCH_CUDA_ARCH_LIST') or '9.0'}",
            f"-DTORCH_EXT_BUILD_TESTS={'OFF' if os.environ.get('TORCH_EXT_BUILD_TESTS') == '0' else 'ON'}",
        ]
        ninja = shutil.which("ninja")
        if ninja is None:
            sys.exit("torch_ext: the build needs ninja (pip install ninja)")
        configure.append(f"-DCMAKE_MAKE_PROGRAM={ninja}")
        if cuda and CUDA_HOME:
            configure.append(f"-DCMAKE_CUDA_COMPILER={os.path.join(CUDA_HOME, 'bin', 'nvcc')}")
        subprocess.check_call(configure)
        subprocess.check_call(["cmake", "--build", BUILD_DIR, "--target", "torch_ext_ops", "-j", jobs])

        built = os.path.join(BUILD_DIR, LIB_NAME)
        package_dir = os.path.join(ROOT if self.inplace else self.build_lib, "torch_ext")
        os.makedirs(os.path.join(package_dir, "lib"), exist_ok=True)
        shutil.copy2(built, os.path.join(package_dir, "lib", LIB_NAME))
        # NB: pip's editable builds use a fresh temporary folder; a fixed one lets ninja skip
        # _C when nothing changed.
        self.build_temp = os.path.join(ROOT, "build", "python")
        super().run()


setup(
    name="torch_ext",
    version=VERSION,
    description="Hand-written CPU and CUDA kernels for classic activations, as PyTorch ops",
    packages=find_packages(include=["torch_ext", "torch_ext.*"]),
    package_data={"torch_ext": ["lib/*.so"]},
    ext_modules=[
        CppExtension(
            name="torch_ext._C",
            sources=["csrc/python_module.cpp"],
            include_dirs=[os.path.join(ROOT, "csrc")],
            library_dirs=[BUILD_DIR],
            libraries=["torch_ext_ops", ":libstdc++.so.6"],  # NB: -l:libstdc++.so.6, see CMakeLists.txt
            extra_link_args=["-Wl,-rpath,$ORIGIN/lib"],
        )
    ],
    cmdclass={"build_ext": CMakeThenExtension},
    python_requires=">=3.10",
    install_requires=["torch"],
)
