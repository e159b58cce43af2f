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

from setuptools import find_namespace_packages, setup

# The torch releases this source builds against and is tested with (README: "Supported torch").
SUPPORTED_TORCH = ">=2.11,<2.16"

try:
    import torch
except ImportError:
    # NB: pip's default build runs in an isolated environment without the user's torch; a torch
    # fetched into it would be a second one, possibly of another version than the one the kernels
    # must link against.
    sys.exit(
        "torch_ext: building needs torch already installed in this environment (torch" + SUPPORTED_TORCH + ").\n"
        "  Install torch first, then build against it without build isolation:\n"
        "    pip install 'torch" + SUPPORTED_TORCH + "'\n"
        "    pip install --no-build-isolation ."
    )
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension

ROOT = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.abspath(os.environ.get("TORCH_EXT_BUILD_DIR", os.path.join(ROOT, "build", "cmake")))
LIB_NAME = "libtorch_ext_ops.so"
# Read by torch_ext/__init__.py before it loads the library: a different torch is a clear error, not an
# undefined symbol.
TORCH_VERSION_FILE = "torch_version.txt"
TORCH_RELEASE = ".".join(torch.__version__.split("+")[0].split(".")[:2])


def torch_requirement() -> str:
    """A built wheel runs only with the torch release it was compiled against (torch has no stable C++
    ABI across releases), as torchvision's and flash-attn's wheels say; an sdist takes any supported one."""
    if "sdist" in sys.argv:
        return "torch" + SUPPORTED_TORCH
    return f"torch=={TORCH_RELEASE}.*"


def with_cuda() -> bool:
    flag = os.environ.get("TORCH_EXT_WITH_CUDA")
    if flag is not None:
        return flag == "1"
    # NB: nvcc decides, not a visible GPU: the build machine may have none.
    nvcc = shutil.which("nvcc") or (CUDA_HOME and os.path.join(CUDA_HOME, "bin", "nvcc"))
    return bool(torch.version.cuda) and bool(nvcc) and os.path.exists(nvcc)


def find_cmake() -> str:
    """A CMake that knows CUDA's C++20 (3.26+): PyPI's `cmake` package where installed, else the PATH's."""
    candidates = []
    try:
        import cmake  # PyPI's cmake

        candidates.append(os.path.join(cmake.CMAKE_BIN_DIR, "cmake"))
    except ImportError:
        pass
    candidates += [c for c in [shutil.which("cmake")] if c]
    for candidate in candidates:
        out = subprocess.run([candidate, "--version"], capture_output=True, text=True).stdout.split()
        version = tuple(int(v) for v in out[2].split("-")[0].split(".")[:2]) if len(out) > 2 else (0, 0)
        if version >= (3, 26):
            return candidate
    sys.exit("torch_ext: the build needs CMake 3.26 or newer (found: "
             + (", ".join(candidates) or "none") + "); pip install 'cmake>=3.26'")


class CMakeThenExtension(BuildExtension):
    """Builds libtorch_ext_ops.so with CMake, puts it in torch_ext/lib, then builds _C against it."""

    def run(self):
        cuda = with_cuda()
        jobs = os.environ.get("MAX_JOBS", str(os.cpu_count() or 1))
        cmake = find_cmake()
        configure = [
            cmake, "-S", ROOT, "-B", BUILD_DIR, "-G", "Ninja",
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
        subprocess.check_call([cmake, "--build", BUILD_DIR, "--target", "torch_ext_ops", "-j", jobs])

        built = os.path.join(BUILD_DIR, LIB_NAME)
        package_dir = os.path.join(ROOT if self.inplace else self.build_lib, "torch_ext")
        os.makedirs(os.path.join(package_dir, "lib"), exist_ok=True)
        shutil.copy2(built, os.path.join(package_dir, "lib", LIB_NAME))
        with open(os.path.join(package_dir, "lib", TORCH_VERSION_FILE), "w") as f:
            f.write(torch.__version__ + "\n")
        # NB: pip's editable builds use a fresh temporary folder; a fixed one beside the CMake build
        # (one per build folder, so builds against two torches do not share objects) lets ninja skip
        # _C when nothing changed.
        self.build_temp = BUILD_DIR + "-python"
        super().run()


# The project's metadata is pyproject.toml's; setup.py adds what is decided at build time.
setup(
    # torch_ext/lib holds no Python: a data package (setuptools warns about data in a folder it does not list).
    packages=find_namespace_packages(include=["torch_ext", "torch_ext.*"], exclude=["*.__pycache__"]),
    package_data={"torch_ext.lib": ["*.so", TORCH_VERSION_FILE]},
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
    install_requires=[torch_requirement()],
)
